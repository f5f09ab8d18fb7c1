// Some bytes, then a message: a signed message (the DKIM-Signature fields,
// then the message exactly as it would have gone unsigned), or a message
// from a pipe whose first bytes were read to see whether it is signed (those
// bytes again, then the rest of the pipe, without spooling it).

final class PrefixedMessage: MessageSource {
    private let prefix: [UInt8]
    private var prefixSent = 0
    private let rest: any MessageSource

    init(_ prefix: [UInt8], then rest: any MessageSource) {
        self.prefix = prefix
        self.rest = rest
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        guard prefixSent < prefix.count else { return try rest.read(into: buffer) }
        let count = min(buffer.count, prefix.count - prefixSent)
        prefix.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + prefixSent, byteCount: count)
        }
        prefixSent += count
        return count
    }

    /// Known when the rest's are (not for a pipe); SIZE= counts the prefix too.
    func facts() -> MessageFacts? {
        guard var facts = rest.facts() else { return nil }
        prefix.withUnsafeBytes { facts.scan($0) }
        return facts
    }
}
