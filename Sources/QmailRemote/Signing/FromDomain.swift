// The domain of a From: field's first mailbox (RFC 5322 3.4), what DMARC
// aligns a signature with: `a@x`, `Name <a@x>`, `"a@b" <a@x>`, comments,
// groups, folding. Lenient in what it skips, strict in what it returns
// (checked later as a signing domain). Not an address parser for anything else.

enum FromDomain {
    /// The lowercased domain of the first mailbox in `field` ("From: ..."), or
    /// nil when there is none (no @, a domain literal, an empty group).
    static func of(_ field: [UInt8]) -> [UInt8]? {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        var address: [UInt8] = []
        var commentDepth = 0
        var quoted = false
        var escaped = false
        var inAngle = false
        for byte in field[(colon + 1)...] where byte != 13 && byte != 10 {
            if escaped {
                escaped = false
                if commentDepth == 0 { address.append(byte) }
                continue
            }
            if byte == UInt8(ascii: "\\") && (quoted || commentDepth > 0) {
                escaped = true
                if commentDepth == 0 { address.append(byte) }
                continue
            }
            if commentDepth > 0 {
                if byte == UInt8(ascii: "(") {
                    commentDepth += 1
                } else if byte == UInt8(ascii: ")") {
                    commentDepth -= 1
                }
                continue
            }
            if quoted {
                if byte == UInt8(ascii: "\"") { quoted = false }
                address.append(byte)
                continue
            }
            switch byte {
            case UInt8(ascii: "("): commentDepth = 1
            case UInt8(ascii: "\""):
                quoted = true
                address.append(byte)
            case UInt8(ascii: "<") where !inAngle:
                // What came before was a display name.
                inAngle = true
                address.removeAll()
            case UInt8(ascii: ">") where inAngle:
                return domain(of: address)
            case UInt8(ascii: ":") where !inAngle:
                // A group's name: its mailboxes follow.
                address.removeAll()
            case UInt8(ascii: ","), UInt8(ascii: ";"):
                if !inAngle && address.contains(where: { $0 != 32 && $0 != 9 }) { return domain(of: address) }
                if !inAngle { address.removeAll() }
            default:
                address.append(byte)
            }
        }
        return inAngle ? nil : domain(of: address)
    }

    /// The part after the last @ outside quotes, without blanks and a final dot.
    private static func domain(of address: [UInt8]) -> [UInt8]? {
        var quoted = false
        var escaped = false
        var at: Int?
        for (index, byte) in address.enumerated() {
            if escaped {
                escaped = false
            } else if quoted && byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if byte == UInt8(ascii: "@") && !quoted {
                at = index
            }
        }
        guard let at else { return nil }
        var domain = address[(at + 1)...].filter { $0 != 32 && $0 != 9 }
        if domain.last == UInt8(ascii: ".") { domain.removeLast() }
        guard !domain.isEmpty, domain.first != UInt8(ascii: "[") else { return nil }
        return domain.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
    }
}
