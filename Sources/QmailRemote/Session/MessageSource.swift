// Where the message body comes from: read once, front to back, in chunks.
// The command reads standard input (a pipe or a file; never seeked or mapped).

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
}

extension MessageSource {
    public func facts() -> MessageFacts? { nil }
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

    /// Known for a regular file (qmail hands qmail-remote the queue file):
    /// read with pread from the current offset, which stays where it is.
    public func facts() -> MessageFacts? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let start = lseek(fd, 0, SEEK_CUR)
        guard start >= 0 else { return nil }
        var facts = MessageFacts(size: 0, eightBit: false)
        var chunk = [UInt8](unsafeUninitializedCapacity: 65536) { $1 = 65536 }
        var offset = start
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { return facts }
            chunk.withUnsafeBytes { facts.scan(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += off_t(count)
        }
    }
}
