// A client's own header field: any field name (printable ASCII, no colon)
// but those the composer writes itself, Bcc and Return-Path, or any
// Content-*; its value as unstructured text, folded, non-ASCII words encoded.

enum ExtraHeader {
    /// Lower-case names a client may not give.
    static let reservedNames: Set<String> = [
        "date", "from", "to", "cc", "bcc", "reply-to", "subject", "message-id", "mime-version", "return-path",
    ]

    static func check(_ header: HeaderField) throws(CompositionError) {
        let name = header.name.utf8
        guard !name.isEmpty, name.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
            throw CompositionError(
                .invalidHeader, "header name \"\(shown(header))\" is not a field name (printable ASCII, no colon)")
        }
        let lowered = header.name.lowercased()
        if reservedNames.contains(lowered) || lowered.hasPrefix("content-") {
            throw CompositionError(.invalidHeader, "header \(shown(header)) is written by the composer or never sent")
        }
        if let problem = FieldText.problem(in: header.value, allowTab: true) {
            throw CompositionError(.invalidHeader, "header \(shown(header)) \(problem)")
        }
    }

    /// Writes a checked field; refuses one with a word too long for 998 octets.
    static func write(_ header: HeaderField, into out: inout MessageAssembly) throws(CompositionError) {
        let fits = out.writeField(header.name) {
            UnstructuredText.write(header.value, into: &$0, encodeLongWords: false)
        }
        if !fits {
            throw CompositionError(
                .invalidHeader, "header \(shown(header)) has a line that cannot be folded within 998 octets")
        }
    }

    /// The name as an error message may show it.
    private static func shown(_ header: HeaderField) -> String {
        String(header.name.unicodeScalars.prefix(64).map { $0.isASCII && $0.value >= 32 ? Character($0) : "?" })
    }
}
