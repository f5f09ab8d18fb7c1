// A message that can be read only once (stdin as a pipe), copied into an
// unlinked temporary file so it can be read twice, to sign it and to send
// it, in constant memory. Nothing is left behind, even after kill -9: the
// file has no name from the moment it exists.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

final class MessageSpool {
    private let fd: Int32

    /// Why a message could not be spooled.
    enum Failure: Error, Equatable {
        /// The message could not be read: "Unable to read message".
        case unreadable
        /// The file could not be made or written; the phrase names the directory.
        case cannotStore(String)
    }

    /// Copies all of `message` into a new file in `directory`.
    init(copying message: some MessageSource, into directory: String) throws(Failure) {
        var template = Array((directory + "/qmail-remote.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .cannotStore("cannot make a file in \(directory): \(Self.reason(errno))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        do throws(Failure) {
            try Self.copy(message, to: fd, directory: directory)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
    }

    private static func copy(_ message: some MessageSource, to fd: Int32, directory: String) throws(Failure) {
        var chunk = [UInt8](unsafeUninitializedCapacity: 65536) { $1 = 65536 }
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { raw throws(MessageReadError) in try message.read(into: raw) }
            } catch {
                throw .unreadable
            }
            if count == 0 { return }
            // withUnsafeBytes rethrows untyped errors: carry the typed one out.
            let failure: Descriptor.WriteFailure? = chunk.withUnsafeBytes { raw in
                do throws(Descriptor.WriteFailure) {
                    try Descriptor.writeAll(UnsafeRawBufferPointer(rebasing: raw[0..<count]), to: fd)
                    return nil
                } catch {
                    return error
                }
            }
            if let failure {
                throw .cannotStore("cannot write to a file in \(directory): \(Self.reason(failure.errno))")
            }
        }
    }

    deinit { close(fd) }

    /// A reader of the whole message; it keeps the file open.
    func reader() -> any MessageSource { FileRegionMessage(fd: fd, start: 0, owner: self) }

    private static func reason(_ code: Int32) -> String {
        code == 0 ? "nothing was written" : String(cString: strerror(code))
    }
}
