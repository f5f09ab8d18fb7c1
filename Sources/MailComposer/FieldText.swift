// The one check every client text passes before it may become part of a
// header: no CR, LF or NUL (header injection), no other control character,
// and none of the Unicode line breaks (NEL, U+2028, U+2029) that some
// parsers split lines on. Returns the phrase for the error, or nil. Also
// the one trim: parsers drop white space around field values and names.

enum FieldText {
    /// `text` without the spaces and tabs around it.
    static func trimmed(_ text: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var text = text
        while let first = text.first, first == 0x20 || first == 9 { text = text.dropFirst() }
        while let last = text.last, last == 0x20 || last == 9 { text = text.dropLast() }
        return text
    }

    /// What is wrong with `text` as header material, to follow the field's name.
    static func problem(in text: String, allowTab: Bool) -> String? {
        var found: String?
        var copy = text
        copy.withUTF8 { bytes in
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 13 || byte == 10 || byte == 0 {
                    found = "contains a line break or NUL"
                    return
                }
                if (byte < 32 && !(allowTab && byte == 9)) || byte == 127 {
                    found = "contains a control character"
                    return
                }
                // U+0080...U+009F (C1 controls, NEL among them) are C2 80...C2 9F.
                if byte == 0xC2, index + 1 < bytes.count, bytes[index + 1] < 0xA0 {
                    found = "contains a control character"
                    return
                }
                if byte == 0xE2, index + 2 < bytes.count, bytes[index + 1] == 0x80,
                    bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9
                {
                    found = "contains a Unicode line or paragraph separator"
                    return
                }
                index += 1
            }
        }
        return found
    }
}
