// RFC 2047 encoded words for UTF-8 header text: "=?UTF-8?Q?...?=" or
// "=?UTF-8?B?...?=", whichever is shorter for the text, each word at most 75
// characters and holding whole characters only. Q uses the set a display
// name allows (RFC 2047 5(3)) wherever it is written.

enum EncodedWord {
    static let maximumLength = 75

    enum Encoding {
        case q, b

        var prefix: [UInt8] { self == .q ? EncodedWord.qPrefix : EncodedWord.bPrefix }

        /// Q for mostly-ASCII text, B for most other scripts.
        static func shorter(for text: ArraySlice<UInt8>) -> Encoding {
            var qLength = 0
            for byte in text { qLength += EncodedWord.isLiteralInQ(byte) || byte == 0x20 ? 1 : 3 }
            return qLength <= (text.count + 2) / 3 * 4 ? .q : .b
        }
    }

    /// "=?UTF-8?X?" and "?=".
    static let overhead = 12
    fileprivate static let qPrefix = Array("=?UTF-8?Q?".utf8)
    fileprivate static let bPrefix = Array("=?UTF-8?B?".utf8)

    static func isLiteralInQ(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "!"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// How many bytes the UTF-8 character starting with `lead` has.
    static func characterLength(startingWith lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }

    /// The length of one encoded word holding `text`.
    static func length(of text: ArraySlice<UInt8>, _ encoding: Encoding) -> Int {
        switch encoding {
        case .b: return overhead + (text.count + 2) / 3 * 4
        case .q: return overhead + text.reduce(0) { $0 + (isLiteralInQ($1) || $1 == 0x20 ? 1 : 3) }
        }
    }

    /// How many bytes of `text`, whole characters only, fit in a word of
    /// `room` characters (0 when not even one does). When the text must be
    /// split, the split follows a space if one fits: a decoder that wrongly
    /// keeps the white space between encoded words (Python's, in display
    /// names) then shows a doubled space, not a broken word.
    static func prefixFitting(_ text: ArraySlice<UInt8>, in room: Int, _ encoding: Encoding) -> Int {
        let taken = charactersFitting(text, in: room, encoding)
        guard taken < text.count, let space = text.prefix(taken).dropFirst().lastIndex(of: 0x20) else { return taken }
        return space + 1 - text.startIndex
    }

    private static func charactersFitting(_ text: ArraySlice<UInt8>, in room: Int, _ encoding: Encoding) -> Int {
        var taken = 0
        var encodedLength = overhead
        var index = text.startIndex
        while index < text.endIndex {
            let characterEnd = min(text.endIndex, index + characterLength(startingWith: text[index]))
            let next: Int
            switch encoding {
            case .b: next = overhead + (taken + characterEnd - index + 2) / 3 * 4
            case .q:
                next = text[index..<characterEnd].reduce(encodedLength) {
                    $0 + (isLiteralInQ($1) || $1 == 0x20 ? 1 : 3)
                }
            }
            if next > room { break }
            encodedLength = next
            taken += characterEnd - index
            index = characterEnd
        }
        return taken
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    static func write(_ text: ArraySlice<UInt8>, _ encoding: Encoding, into out: inout [UInt8]) {
        out.append(contentsOf: encoding.prefix)
        switch encoding {
        case .b:
            Base64Lines.appendUnwrapped(text, to: &out)
        case .q:
            for byte in text {
                if isLiteralInQ(byte) {
                    out.append(byte)
                } else if byte == 0x20 {
                    out.append(UInt8(ascii: "_"))
                } else {
                    out.append(UInt8(ascii: "="))
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 15)])
                }
            }
        }
        out.append(UInt8(ascii: "?"))
        out.append(UInt8(ascii: "="))
    }
}
