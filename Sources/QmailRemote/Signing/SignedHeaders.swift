// Which header fields a signature covers (h=) and the bytes of them that it
// hashes (RFC 6376 5.4): the fields receivers look at that the message has,
// in the message's order, then From once more than it occurs, so that no
// From: can be added later without breaking the signature. Not here: the
// DKIM-Signature field itself (SignatureField).

import QmailSupport

struct SignedHeaders {
    /// Signed when present (RFC 6376 5.4.1 and what receivers show or act
    /// on), besides every List-* field.
    static let signedNames: Set<[UInt8]> = Set(
        [
            "from", "sender", "reply-to", "subject", "date", "to", "cc", "message-id", "in-reply-to", "references",
            "mime-version", "content-type", "content-transfer-encoding", "content-id", "content-description",
            "resent-date", "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-message-id",
            "feedback-id",
        ].map { Array($0.utf8) })

    /// The h= names as the message writes them, From last once more.
    let names: [[UInt8]]
    /// The canonical fields in h= order, each ending CRLF; nothing for the
    /// From that is not there.
    let canonical: [UInt8]

    /// `fields`: the header fields as HeaderSection keeps them.
    init(_ fields: [[UInt8]]) {
        var names: [[UInt8]] = []
        // Where each signed name occurs, top to bottom.
        var occurrences: [[UInt8]: [Int]] = [:]
        for (index, field) in fields.enumerated() {
            let name = Self.name(of: field)
            let lowered = ASCII.lowercased(name)
            guard Self.isSigned(lowered), Self.isPlainName(name) else { continue }
            names.append(name)
            occurrences[lowered, default: []].append(index)
        }
        names.append(Array("From".utf8))
        // RFC 6376 5.4.2: each name in h= takes the lowest instance not taken yet.
        var canonical: [UInt8] = []
        for name in names {
            guard let index = occurrences[ASCII.lowercased(name)]?.popLast() else { continue }
            canonical += RelaxedHeader.canonical(fields[index])
            canonical += [13, 10]
        }
        self.names = names
        self.canonical = canonical
    }

    private static func isSigned(_ lowered: [UInt8]) -> Bool {
        signedNames.contains(lowered) || (lowered.starts(with: "list-".utf8) && lowered.count > 5)
    }

    /// Letters, digits and hyphens: what h= can carry as it is (RFC 5322
    /// allows ';' and '=' in names, which would end the tag).
    private static func isPlainName(_ name: [UInt8]) -> Bool {
        name.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    /// The name before the colon, without the blanks RFC 5322's obsolete syntax allows there.
    private static func name(of field: [UInt8]) -> [UInt8] {
        var name = Array(field.prefix { $0 != UInt8(ascii: ":") })
        while let last = name.last, last == 32 || last == 9 { name.removeLast() }
        return name
    }
}
