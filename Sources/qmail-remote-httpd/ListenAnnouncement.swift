// Where a running gateway says it listens, for --probe: a container's health
// check runs the binary again without the flags the gateway was started
// with, so the gateway writes its --listen address to a small file
// ($TMPDIR or /tmp, per user), with a second line `https` when it speaks
// HTTPS, and the probe reads it.

import QmailRemoteHTTP
#if canImport(Glibc)
import Glibc
#endif

enum ListenAnnouncement {
    static var path: String {
        let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return "\(directory)/qmail-remote-httpd-\(getuid()).listen"
    }

    /// Writes the address (atomically: a temporary file renamed); false if it could not.
    static func write(_ listen: ListenAddress, https: Bool) -> Bool {
        let temporary = path + ".\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        let text = Array((listen.description + "\n" + (https ? "https\n" : "")).utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == text.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// The announced address and whether it speaks HTTPS, if a gateway announced one.
    static func read() -> (address: ListenAddress, https: Bool)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let lines = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n")
        guard let first = lines.first, let address = ListenAddress(String(first)) else { return nil }
        return (address, lines.dropFirst().first == "https")
    }

    /// Removes the file if it still names this gateway's address.
    static func remove(_ listen: ListenAddress) {
        if read()?.address == listen { unlink(path) }
    }
}
