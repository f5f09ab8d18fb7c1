// The message laid out before it is written: runs of finished bytes
// (headers, text bodies, boundaries), attachments still to be encoded, and
// texts held elsewhere still to be encoded. Its exact size is known before
// anything large is encoded, so a message over the limit costs nothing; it
// is written into one allocation, or in pieces into a sink.

struct MessageAssembly: Sendable {
    private enum Segment: Sendable {
        case bytes([UInt8])
        case base64(PartContent)
        /// A text read from a source, and the size it encodes to.
        case text(TextBody, count: Int)
    }

    private var segments: [Segment] = []
    private var pending: [UInt8] = []
    /// The size of the finished message.
    private(set) var count = 0
    /// A text held elsewhere could not be read while it was laid out.
    private(set) var unreadable = false

    init() { pending.reserveCapacity(2048) }

    mutating func append(_ bytes: [UInt8]) {
        let before = pending.count
        pending.append(contentsOf: bytes)
        count += pending.count - before
    }

    mutating func append(_ text: StaticString) {
        pending.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        count += text.utf8CodeUnitCount
    }

    /// Writes the field `name` with what `write` gives it, into the finished
    /// bytes directly; false when a line passed 998 octets.
    mutating func writeField(_ name: some StringProtocol, _ write: (inout HeaderWriter) -> Void) -> Bool {
        var writer = HeaderWriter()
        swap(&writer.bytes, &pending)
        let before = writer.bytes.count
        writer.begin(name)
        write(&writer)
        writer.end()
        swap(&writer.bytes, &pending)
        count += pending.count - before
        return !writer.isOverlong
    }

    /// A text body: encoded now when it is in memory, else laid out with the
    /// size it encodes to (read once for that here) and encoded when written.
    mutating func append(_ body: TextBody) {
        if let text = body.content.inMemory {
            pending.reserveCapacity(pending.count + text.count + text.count / 8 + 16)
            let before = pending.count
            body.write(into: &pending)
            count += pending.count - before
            return
        }
        guard let encoded = body.encodedCount() else {
            unreadable = true
            return
        }
        closePending()
        segments.append(.text(body, count: encoded))
        count += encoded
    }

    /// Adds `content` to be written as base64 lines (Base64Lines).
    mutating func appendBase64(of content: PartContent) {
        closePending()
        segments.append(.base64(content))
        count += Base64Lines.encodedLength(content.count)
    }

    private mutating func closePending() {
        if !pending.isEmpty {
            segments.append(.bytes(pending))
            pending = []
        }
    }

    private var allSegments: [Segment] { pending.isEmpty ? segments : segments + [.bytes(pending)] }

    /// The message, written once into an array of exactly `count` bytes;
    /// nil when a content held elsewhere could not be read.
    func bytes() -> [UInt8]? {
        let total = count
        var complete = true
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var offset = 0
            for segment in allSegments {
                switch segment {
                case .bytes(let bytes):
                    bytes.withUnsafeBufferPointer { source in
                        (buffer.baseAddress! + offset).initialize(from: source.baseAddress!, count: source.count)
                    }
                    offset += bytes.count
                case .base64(let content):
                    guard let written = Self.encodeBase64(content, into: buffer.baseAddress! + offset) else {
                        complete = false
                        break
                    }
                    offset += written
                case .text(let body, let encoded):
                    var out: [UInt8] = []
                    out.reserveCapacity(encoded)
                    if !body.write(into: &out) || out.count != encoded {
                        complete = false
                    } else {
                        out.withUnsafeBufferPointer {
                            (buffer.baseAddress! + offset).initialize(from: $0.baseAddress!, count: encoded)
                        }
                    }
                    offset += encoded
                }
                if !complete { break }
            }
            if !complete {
                buffer.baseAddress!.initialize(repeating: 0, count: total)
                initialized = total
                return
            }
            precondition(offset == total, "the assembled message is not the size laid out")
            initialized = total
        }
        return complete ? bytes : nil
    }

    /// Writes the message into `sink` in pieces; false when a content held
    /// elsewhere could not be read (the sink then has part of the message).
    func write(into sink: any MessageSink) -> Bool {
        var scratch: [UInt8] = []
        for segment in allSegments {
            switch segment {
            case .bytes(let bytes):
                bytes.withUnsafeBytes { sink.write($0) }
            case .base64(let content):
                let needed = Base64Lines.encodedLength(min(content.count, Base64Lines.pieceSize)) + 2
                if scratch.count < needed { scratch = [UInt8](repeating: 0, count: needed) }
                var first = true
                let complete = content.forEachPiece(of: Base64Lines.pieceSize) { piece in
                    scratch.withUnsafeMutableBufferPointer { out in
                        var length = 0
                        if !first {
                            out[0] = 13
                            out[1] = 10
                            length = 2
                        }
                        length += Base64Lines.encode(piece, into: out.baseAddress! + length)
                        sink.write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<length]))
                    }
                    first = false
                }
                if !complete { return false }
            case .text(let body, _):
                var out = SinkOutput(sink)
                let complete = body.write(into: &out)
                out.flush()
                if !complete { return false }
            }
        }
        return true
    }

    /// Encodes `content` at `target` piece by piece; the length written, nil when unreadable.
    private static func encodeBase64(_ content: PartContent, into target: UnsafeMutablePointer<UInt8>) -> Int? {
        var at = target
        var first = true
        let complete = content.forEachPiece(of: Base64Lines.pieceSize) { piece in
            if !first {
                at[0] = 13
                at[1] = 10
                at += 2
            }
            at += Base64Lines.encode(piece, into: at)
            first = false
        }
        return complete ? at - target : nil
    }
}
