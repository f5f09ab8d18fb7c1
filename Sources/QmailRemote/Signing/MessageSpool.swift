// A message that can be read only once (stdin as a pipe), copied into an
// unlinked temporary file as it is read for signing, so that it can be read
// again to send it, in constant memory. Nothing is left behind, even after
// kill -9: the file has no name from the moment it exists.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

final class MessageSpool {
    private let fd: Int32
    private let directory: String

    /// Why a message could not be spooled: the phrase names the directory.
    struct Failure: Error, Equatable {
        let phrase: String
    }

    /// A new, empty file in `directory`.
    init(in directory: String) throws(Failure) {
        var template = Array((directory + "/qmail-remote.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Failure(phrase: "cannot make a file in \(directory): \(Self.reason(errno))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
        self.directory = directory
    }

    deinit { close(fd) }

    /// Adds `bytes` at the end.
    func append(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        do throws(Descriptor.WriteFailure) {
            try Descriptor.writeAll(bytes, to: fd)
        } catch {
            throw writeFailure(error)
        }
    }

    func append(_ bytes: [UInt8]) throws(Failure) {
        do throws(Descriptor.WriteFailure) {
            try Descriptor.writeAll(bytes, to: fd)
        } catch {
            throw writeFailure(error)
        }
    }

    private func writeFailure(_ failure: Descriptor.WriteFailure) -> Failure {
        Failure(phrase: "cannot write to a file in \(directory): \(Self.reason(failure.errno))")
    }

    /// A reader of the whole message; it keeps the file open.
    func reader() -> any MessageSource { FileRegionMessage(fd: fd, start: 0, owner: self) }

    private static func reason(_ code: Int32) -> String {
        code == 0 ? "nothing was written" : String(cString: strerror(code))
    }
}
