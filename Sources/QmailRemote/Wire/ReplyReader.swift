// Reads SMTP replies from a connection: lines end at LF (CRLF or bare LF),
// a line whose fourth byte is '-' is followed by another line of the same
// reply. It bounds what a hostile server can make us read; it does not judge
// codes (ReplyCode does).

enum ReplyError: Error, Sendable, Equatable {
    /// The connection closed, failed or passed its deadline mid-reply.
    case connectionDied
    /// The reply went on past `ReplyReader.replyByteLimit` bytes.
    case tooLong
}

struct ReplyReader {
    /// The most raw bytes one reply may take, all lines together. RFC 5321
    /// lines are at most 512 bytes; this leaves room for long EHLO lists.
    static let replyByteLimit = 65536

    private var buffer: [UInt8]
    private var start = 0
    private var end = 0

    init(bufferSize: Int = 4096) {
        buffer = [UInt8](unsafeUninitializedCapacity: bufferSize) { $1 = bufferSize }
    }

    /// Reads one whole reply.
    mutating func read(from connection: some Connection) throws(ReplyError) -> Reply {
        var text: [UInt8] = []
        var code: ReplyCode?
        var rawCount = 0
        while true {
            var lineLength = 0
            var fourth: UInt8 = 0
            // The first line's first three bytes; a shorter line leaves NULs.
            var head: (UInt8, UInt8, UInt8) = (0, 0, 0)
            while true {
                if start == end { try fill(from: connection) }
                let byte = buffer[start]
                start += 1
                rawCount += 1
                if rawCount > Self.replyByteLimit { throw .tooLong }
                if byte != 10 {
                    switch lineLength {
                    case 0: head.0 = byte
                    case 1: head.1 = byte
                    case 2: head.2 = byte
                    case 3: fourth = byte
                    default: break
                    }
                }
                lineLength += 1
                if byte != 13 && text.count < Reply.textLimit { text.append(byte) }
                if byte == 10 { break }
            }
            if code == nil {
                let length = min(lineLength - 1, 3)
                code = ReplyCode(firstLine: [head.0, head.1, head.2][0..<length])
            }
            if fourth != UInt8(ascii: "-") { break }
        }
        return Reply(code: code!, text: text)
    }

    /// Bytes the server sent past the last whole reply, not read yet: on an
    /// idle connection there must be none.
    var hasUnreadBytes: Bool { start < end }

    private mutating func fill(from connection: some Connection) throws(ReplyError) {
        let count: Int
        do {
            count = try buffer.withUnsafeMutableBytes { raw throws(TransportError) in
                try connection.read(into: raw)
            }
        } catch {
            throw .connectionDied
        }
        if count == 0 { throw .connectionDied }
        start = 0
        end = count
    }
}
