// One address checked and taken apart: an optional display name and an
// addr-spec (RFC 5322 3.4.1; UTF-8 local parts as RFC 6532 allows, which the
// core then sends with SMTPUTF8). Domains must be ASCII (A-labels): turning
// a U-label into one (IDNA) is not done here. How it is written: Mailbox+Header.

struct Mailbox {
    /// The display name as plain UTF-8 text, nil when there is none. Runs
    /// of spaces in it are one space: RFC 5322 3.2.2 reads them so between
    /// the words of a phrase, and parsers (Python's) give them back so.
    let name: [UInt8]?
    /// The local part without quoting.
    let localPart: [UInt8]
    let domain: [UInt8]

    /// `local@domain` as the envelope carries it; the core quotes the local part when it must.
    var envelopeAddress: [UInt8] {
        var out = localPart
        out.append(UInt8(ascii: "@"))
        out.append(contentsOf: domain)
        return out
    }

    /// The envelope address with the domain in lower case, to send to each address once.
    var deduplicationKey: [UInt8] {
        var out = localPart
        out.append(UInt8(ascii: "@"))
        for byte in domain { out.append(byte >= 65 && byte <= 90 ? byte + 32 : byte) }
        return out
    }

    /// Checks and splits `field`; `label` names it in errors ("to 2").
    init(_ field: AddressField, label: FieldLabel) throws(CompositionError) {
        switch field {
        case .parts(let name, let address):
            if let name, let problem = FieldText.problem(in: name, allowTab: false) {
                throw CompositionError(.invalidAddress, "\(label) name \(problem)")
            }
            if let problem = FieldText.problem(in: address, allowTab: false) {
                throw CompositionError(.invalidAddress, "\(label) address \(problem)")
            }
            self.name = name.flatMap { Self.phrase(Array($0.utf8)[...]) }
            (localPart, domain) = try Self.splitAddress(FieldText.trimmed(Array(address.utf8)[...]), label: label)
        case .text(let text):
            if let problem = FieldText.problem(in: text, allowTab: false) {
                throw CompositionError(.invalidAddress, "\(label) \(problem)")
            }
            let bytes = FieldText.trimmed(Array(text.utf8)[...])
            guard bytes.last == UInt8(ascii: ">") else {
                name = nil
                (localPart, domain) = try Self.splitAddress(bytes, label: label)
                return
            }
            guard let open = Self.angleStart(in: bytes) else {
                throw CompositionError(.invalidAddress, "\(label) ends with > but has no < before it")
            }
            name = try Self.unquoted(FieldText.trimmed(bytes[..<open]), label: label)
            (localPart, domain) = try Self.splitAddress(bytes[(open + 1)..<(bytes.endIndex - 1)], label: label)
        }
    }

    /// The last '<' outside a quoted-string: where "Name <addr>" has its address.
    private static func angleStart(in bytes: ArraySlice<UInt8>) -> Int? {
        var inQuotes = false
        var escaped = false
        var found: Int?
        for index in bytes.indices {
            let byte = bytes[index]
            if escaped {
                escaped = false
            } else if inQuotes && byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
            } else if !inQuotes && byte == UInt8(ascii: "<") {
                found = index
            }
        }
        return found
    }

    /// A display name as written before '<': a quoted-string loses its quotes
    /// and escapes, anything else is taken as it is; empty is no name.
    private static func unquoted(_ phrase: ArraySlice<UInt8>, label: FieldLabel) throws(CompositionError) -> [UInt8]? {
        guard phrase.first == UInt8(ascii: "\"") else {
            // "Bob <b@x>, Eve <e@x>" is two addresses in one string, not one oddly named.
            if phrase.contains(UInt8(ascii: "<")) || phrase.contains(UInt8(ascii: ">")) {
                throw CompositionError(.invalidAddress, "\(label) has < or > in its display name; quote the name")
            }
            return Self.phrase(phrase)
        }
        guard phrase.count >= 2, phrase.last == UInt8(ascii: "\""),
            let content = QuotedString.content(phrase.dropFirst().dropLast())
        else {
            throw CompositionError(.invalidAddress, "\(label) has a display name with unbalanced quotes")
        }
        return Self.phrase(content[...])
    }

    /// `text` trimmed, runs of spaces made one; nil when nothing is left.
    private static func phrase(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for byte in FieldText.trimmed(text) where !(byte == 0x20 && out.last == 0x20) { out.append(byte) }
        return out.isEmpty ? nil : out
    }

    /// An addr-spec: a dot-atom or quoted-string local part, '@', a domain.
    private static func splitAddress(
        _ bytes: ArraySlice<UInt8>, label: FieldLabel
    ) throws(CompositionError) -> (local: [UInt8], domain: [UInt8]) {
        func invalid(_ reason: String) -> CompositionError { CompositionError(.invalidAddress, "\(label) \(reason)") }
        guard let first = bytes.first else { throw invalid("has no address") }
        let local: [UInt8]
        let domain: ArraySlice<UInt8>
        if first == UInt8(ascii: "\"") {
            guard let close = QuotedString.closingQuote(in: bytes),
                let content = QuotedString.content(bytes[(bytes.startIndex + 1)..<close])
            else {
                throw invalid("has a local part with unbalanced quotes")
            }
            guard close + 1 < bytes.endIndex, bytes[close + 1] == UInt8(ascii: "@") else {
                throw invalid("has no @domain after its quoted local part")
            }
            local = content
            domain = bytes[(close + 2)...]
        } else {
            guard let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { throw invalid("has no @domain") }
            guard AddressText.isDotAtom(bytes[..<at]) else {
                throw invalid("has a local part that is neither a dot-atom nor a quoted string")
            }
            local = Array(bytes[..<at])
            domain = bytes[(at + 1)...]
        }
        if local.isEmpty { throw invalid("has an empty local part") }
        if local.count > 64 { throw invalid("has a local part longer than 64 octets") }
        if domain.contains(where: { $0 > 127 }) {
            throw invalid("has a domain that is not ASCII; write it in its xn-- form")
        }
        if domain.count > 255 || !AddressText.isDomain(domain) {
            throw invalid("has a domain that is neither a host name nor an address literal")
        }
        return (local, Array(domain))
    }
}
