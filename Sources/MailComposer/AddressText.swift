// The character classes of RFC 5322 addresses (atext, dot-atom, domains and
// address literals) and quoted-strings (RFC 5322 3.2.4): reading one, and
// writing text as one. Shared by addresses, display names and parameters.

enum AddressText {
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "!"), UInt8(ascii: "#")...UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="),
            UInt8(ascii: "?"), UInt8(ascii: "^")...UInt8(ascii: "`"), UInt8(ascii: "{")...UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// atext (UTF-8 included, RFC 6532) separated by single dots.
    static func isDotAtom(_ text: ArraySlice<UInt8>) -> Bool {
        if text.isEmpty || text.first == UInt8(ascii: ".") || text.last == UInt8(ascii: ".") { return false }
        var previousDot = false
        for byte in text {
            if byte == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
            } else {
                if !(isAtext(byte) || byte > 127) { return false }
                previousDot = false
            }
        }
        return true
    }

    /// A host name (letters, digits, '-' and '_' in dot-separated labels) or
    /// an address literal in brackets.
    static func isDomain(_ domain: ArraySlice<UInt8>) -> Bool {
        if domain.first == UInt8(ascii: "[") {
            guard domain.count > 2, domain.last == UInt8(ascii: "]") else { return false }
            return domain.dropFirst().dropLast().allSatisfy {
                $0 >= 33 && $0 <= 126 && $0 != 91 && $0 != 92 && $0 != 93
            }
        }
        var labelLength = 0
        for byte in domain {
            switch byte {
            case UInt8(ascii: "."):
                if labelLength == 0 { return false }
                labelLength = 0
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                labelLength += 1
                if labelLength > 63 { return false }
            default:
                return false
            }
        }
        return labelLength > 0
    }
}

enum QuotedString {
    /// The index of the '"' that closes the quoted-string `bytes` starts with.
    static func closingQuote(in bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex + 1
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == UInt8(ascii: "\"") { return index }
            index += 1
        }
        return nil
    }

    /// The text between the quotes with quoted-pairs undone; nil when a
    /// quote is not escaped or a backslash ends it.
    static func content(_ quoted: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(quoted.count)
        var index = quoted.startIndex
        while index < quoted.endIndex {
            let byte = quoted[index]
            if byte == UInt8(ascii: "\"") { return nil }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < quoted.endIndex else { return nil }
            }
            out.append(quoted[index])
            index += 1
        }
        return out
    }

    /// `text` in quotes, with '"' and '\' escaped.
    static func quoted(_ text: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
