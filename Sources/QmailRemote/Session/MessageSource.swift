// Where the message body comes from: read once, front to back, in chunks.
// The command reads standard input (a pipe or a file; never seeked or mapped);
// a regular file can also be read again from its start, with pread.

#if canImport(Glibc)
import Glibc
#endif

public protocol MessageSource: AnyObject {
    /// Fills part of `buffer`; returns 0 at the end. Throws when the message
    /// cannot be read (the "Unable to read message" report).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int
    /// What can be known of the whole message before sending it, without
    /// consuming it; nil when it cannot (a pipe: then no SIZE, and
    /// BODY=8BITMIME when offered). Asked only when a server offers SIZE or
    /// 8BITMIME.
    func facts() -> MessageFacts?
    /// Another reader of the same message from its first byte, independent
    /// of this one (a DKIM signature is made in a pass before the message is
    /// sent); nil when the message can be read only once (a pipe). Asked
    /// before the first `read`.
    func readerFromStart() -> (any MessageSource)?
}

extension MessageSource {
    public func facts() -> MessageFacts? { nil }
    public func readerFromStart() -> (any MessageSource)? { nil }
}

/// What SIZE= and BODY=8BITMIME need to know of a message.
public struct MessageFacts: Sendable, Equatable {
    /// The size as it will go on the wire, near enough (each LF counted as CRLF).
    public var size: Int
    /// Whether any byte is above 127.
    public var eightBit: Bool

    public init(size: Int, eightBit: Bool) {
        self.size = size
        self.eightBit = eightBit
    }

    /// Adds what `bytes` contribute.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) {
        size += bytes.count
        for byte in bytes {
            if byte == 10 { size += 1 } else if byte > 127 { eightBit = true }
        }
    }
}

/// The message could not be read: the "Unable to read message" report.
public struct MessageReadError: Error, Sendable, Equatable {
    public init() {}
}

/// A message read from a file descriptor that this object does not own.
public final class FileDescriptorMessage: MessageSource {
    private let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw MessageReadError() }
        }
    }

    /// For a regular file, a pread reader from the current offset.
    public func readerFromStart() -> (any MessageSource)? { FileRegionMessage(fd: fd) }

    /// Known for a regular file (qmail hands qmail-remote the queue file):
    /// read with pread from the current offset, which stays where it is.
    public func facts() -> MessageFacts? { FileRegionMessage(fd: fd)?.facts() }
}
