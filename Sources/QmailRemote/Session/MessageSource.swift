// Where the message body comes from: read once, front to back, in chunks.
// The command reads standard input (a pipe or a file; never seeked or mapped).

#if canImport(Glibc)
import Glibc
#endif

public protocol MessageSource: AnyObject {
    /// Fills part of `buffer`; returns 0 at the end. Throws when the message
    /// cannot be read (the "Unable to read message" report).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int
}

public struct MessageReadError: Error, Sendable, Equatable {
    public let errno: Int32
    public init(errno: Int32) { self.errno = errno }
}

/// A message read from a file descriptor that this object does not own.
public final class FileDescriptorMessage: MessageSource {
    private let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw MessageReadError(errno: errno) }
        }
    }
}
