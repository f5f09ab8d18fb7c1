// The message laid out before it is written: runs of finished bytes
// (headers, text bodies, boundaries) and attachments still to be encoded.
// Its exact size is known before anything large is encoded, so a message
// over the limit costs nothing, and the bytes are written into one allocation.

struct MessageAssembly {
    private enum Segment {
        case bytes([UInt8])
        case base64([UInt8])
    }

    private var segments: [Segment] = []
    private var pending: [UInt8] = []
    /// The size of the finished message.
    private(set) var count = 0

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

    /// Lets `write` append to the finished bytes directly (a text body).
    mutating func write(_ write: (inout [UInt8]) -> Void) {
        let before = pending.count
        write(&pending)
        count += pending.count - before
    }

    /// Adds `content` to be written as base64 lines (Base64Lines).
    mutating func appendBase64(of content: [UInt8]) {
        if !pending.isEmpty {
            segments.append(.bytes(pending))
            pending = []
        }
        segments.append(.base64(content))
        count += Base64Lines.encodedLength(content.count)
    }

    /// The message, written once into an array of exactly `count` bytes.
    consuming func bytes() -> [UInt8] {
        if !pending.isEmpty { segments.append(.bytes(pending)) }
        let total = count
        let segments = self.segments
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var offset = 0
            for segment in segments {
                switch segment {
                case .bytes(let bytes):
                    bytes.withUnsafeBufferPointer { source in
                        (buffer.baseAddress! + offset).initialize(from: source.baseAddress!, count: source.count)
                    }
                    offset += bytes.count
                case .base64(let content):
                    offset += Base64Lines.encode(content, into: buffer.baseAddress! + offset)
                }
            }
            precondition(offset == total, "the assembled message is not the size laid out")
            initialized = total
        }
    }
}
