// How a mailbox is written in From, To, Cc and Reply-To: `addr` alone, or a
// display name then `<addr>`; the local part quoted when it is not a
// dot-atom. Display names: atoms as they are, other ASCII as a quoted-string,
// anything else (or anything a decoder could mistake) as encoded words.

extension Mailbox {
    /// The addr-spec as a header carries it, in angle brackets when `bracketed`.
    func headerAddress(bracketed: Bool = false, comma: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(localPart.count + domain.count + 8)
        if bracketed { out.append(UInt8(ascii: "<")) }
        if AddressText.isDotAtom(localPart[...]) {
            out.append(contentsOf: localPart)
        } else {
            out.append(contentsOf: QuotedString.quoted(localPart))
        }
        out.append(UInt8(ascii: "@"))
        out.append(contentsOf: domain)
        if bracketed { out.append(UInt8(ascii: ">")) }
        if comma { out.append(UInt8(ascii: ",")) }
        return out
    }

    /// Writes a comma-separated list of mailboxes as the field's value.
    static func write(_ mailboxes: [Mailbox], into writer: inout HeaderWriter) {
        for (index, mailbox) in mailboxes.enumerated() {
            if let name = mailbox.name { writeDisplayName(name, into: &writer) }
            let address = mailbox.headerAddress(bracketed: mailbox.name != nil, comma: index < mailboxes.count - 1)
            writer.append(address, after: HeaderWriter.space)
        }
    }

    private static func writeDisplayName(_ name: [UInt8], into writer: inout HeaderWriter) {
        let space = HeaderWriter.space
        let looksEncoded = name.indices.dropLast().contains { name[$0] == UInt8(ascii: "=") && name[$0 + 1] == 0x3F }
        if name.contains(where: { $0 > 127 }) || looksEncoded {
            writer.appendEncoded(name[...], after: space)
            return
        }
        let words = name.split(separator: 0x20, omittingEmptySubsequences: false)
        if words.allSatisfy({
            !$0.isEmpty && $0.count < HeaderWriter.foldColumn && $0.allSatisfy(AddressText.isAtext)
        }) {
            for word in words { writer.append(word, after: space) }
            return
        }
        let quoted = QuotedString.quoted(name)
        if quoted.count < HeaderWriter.foldColumn {
            writer.append(quoted, after: space)
        } else {
            writer.appendEncoded(name[...], after: space)
        }
    }
}
