// An unlinked temporary file for a body or a message: nothing is left behind,
// even after a crash, and the descriptor closes when the last holder goes.
// Written once, front to back; then read with pread by any number of readers.

#if canImport(Glibc)
import Glibc
#endif

public final class SpoolFile: @unchecked Sendable {
    // @unchecked: `size` changes only while the one writer appends (before the
    // file is handed to readers); readers use pread and never write.
    let fd: Int32
    private(set) var size = 0

    init?(directory: String) {
        // mkstemp replaces the template's six trailing X with a unique name.
        var template = Array((directory + "/qmail-remote-httpd." + String(repeating: "X", count: 6)).utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    /// Whether a spool file can be made in `directory` now (checked at start).
    public static func canSpool(in directory: String) -> Bool { SpoolFile(directory: directory) != nil }

    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + offset, bytes.count - offset, off_t(size + offset))
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        size += bytes.count
        return true
    }

    /// Reads at `offset`; 0 at the end, nil on an error (errno is set).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int? {
        while true {
            let count = pread(fd, buffer.baseAddress, min(buffer.count, size - offset), off_t(offset))
            if count >= 0 { return count }
            if errno != EINTR { return nil }
        }
    }

    deinit { _ = close(fd) }
}
