// DER (X.690) tag-length-value items read in order, as far as the key files
// need: INTEGER, OCTET STRING, OBJECT IDENTIFIER, SEQUENCE. Lengths up to
// 2^24; nil for anything malformed. Not a general ASN.1 parser.

/// Reads DER (X.690) tag-length-value items in order; nil for anything malformed.
struct DERReader {
    enum Tag: UInt8 {
        case integer = 0x02
        case octetString = 0x04
        case objectIdentifier = 0x06
        case sequence = 0x30
    }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { bytes.isEmpty }

    /// The next item's contents if it has `tag`; the reader moves past it.
    mutating func read(_ tag: Tag) -> ArraySlice<UInt8>? {
        guard bytes.count >= 2, bytes.first == tag.rawValue else { return nil }
        var index = bytes.startIndex + 1
        var length = Int(bytes[index])
        index += 1
        if length >= 0x80 {
            let count = length & 0x7F
            guard (1...3).contains(count), bytes.endIndex - index >= count else { return nil }
            length = 0
            for byte in bytes[index..<(index + count)] { length = length << 8 | Int(byte) }
            index += count
        }
        guard bytes.endIndex - index >= length else { return nil }
        let contents = bytes[index..<(index + length)]
        bytes = bytes[(index + length)...]
        return contents
    }
}
