// The message as sent when signed: the DKIM-Signature fields first, then
// the message exactly as it would have gone unsigned. What SIZE= is told
// counts the fields too.

final class SignedMessage: MessageSource {
    private let fields: [UInt8]
    private var fieldsSent = 0
    private let message: any MessageSource

    /// `fields`: the signature fields, each line ending CRLF.
    init(fields: [UInt8], message: any MessageSource) {
        self.fields = fields
        self.message = message
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        guard fieldsSent < fields.count else { return try message.read(into: buffer) }
        let count = min(buffer.count, fields.count - fieldsSent)
        fields.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + fieldsSent, byteCount: count)
        }
        fieldsSent += count
        return count
    }

    func facts() -> MessageFacts? {
        guard var facts = message.facts() else { return nil }
        fields.withUnsafeBytes { facts.scan($0) }
        return facts
    }
}
