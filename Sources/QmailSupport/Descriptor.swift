// Writing every byte to a file descriptor: the one write-all loop, retrying
// after EINTR and short writes. Sockets go through send(2) with MSG_NOSIGNAL,
// so a peer that went away is an error, never SIGPIPE.

#if canImport(Glibc)
import Glibc
#endif

public enum Descriptor {
    /// Why a write stopped: the errno, or 0 when the descriptor took nothing.
    public struct WriteFailure: Error, Sendable, Equatable {
        public let errno: Int32

        public init(errno: Int32) { self.errno = errno }
    }

    /// Writes all of `bytes` to `fd`, with send(2) when `socket`. A socket's
    /// SO_SNDTIMEO deadline shows as EAGAIN.
    public static func writeAll(
        _ bytes: UnsafeRawBufferPointer, to fd: Int32, socket: Bool = false
    ) throws(WriteFailure) {
        var offset = 0
        while offset < bytes.count {
            let pointer = bytes.baseAddress! + offset
            let count =
                socket
                ? send(fd, pointer, bytes.count - offset, Int32(MSG_NOSIGNAL))
                : write(fd, pointer, bytes.count - offset)
            if count > 0 {
                offset += count
                continue
            }
            let error = count < 0 ? errno : 0
            if error == EINTR { continue }
            throw WriteFailure(errno: error)
        }
    }

    public static func writeAll(_ bytes: [UInt8], to fd: Int32, socket: Bool = false) throws(WriteFailure) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out.
        let failure: WriteFailure? = bytes.withUnsafeBytes { raw in
            do throws(WriteFailure) {
                try writeAll(raw, to: fd, socket: socket)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }
}
