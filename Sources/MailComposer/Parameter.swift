// Writes a header parameter (`; name=value`) so that any value survives:
// a token or quoted-string when it is short ASCII, RFC 2231 extended
// (`name*=UTF-8''%E2%82%AC`) when not ASCII, and RFC 2231 continuations
// (`name*0=`, `name*1*=`) when too long for a line; sections end on whole characters.

enum Parameter {
    /// Appends `name=value` (then ';' unless `isLast`) as one or more words;
    /// a token value as it is unless `quoted` (file names, which some
    /// readers expect in quotes), any other in quotes.
    static func write(
        name: [UInt8], value: [UInt8], isLast: Bool, quoted: Bool = false, into writer: inout HeaderWriter
    ) {
        let space = HeaderWriter.space
        let suffix: [UInt8] = isLast ? [] : [UInt8(ascii: ";")]
        let ascii = !value.contains(where: { $0 > 127 })
        if ascii {
            let isToken = !quoted && !value.isEmpty && value.allSatisfy(MediaType.isTokenCharacter)
            var word = name
            word.reserveCapacity(name.count + value.count * 2 + 4)
            word.append(UInt8(ascii: "="))
            word.append(contentsOf: isToken ? value : QuotedString.quoted(value))
            if !isLast { word.append(UInt8(ascii: ";")) }
            if word.count < HeaderWriter.foldColumn {
                writer.append(word, after: space)
                return
            }
        }
        if !ascii {
            let single = name + Array("*=UTF-8''".utf8) + percentEncoded(value[...])
            if single.count + suffix.count < HeaderWriter.foldColumn {
                writer.append(single + suffix, after: space)
                return
            }
        }
        let sections = split(value, name: name, extended: !ascii)
        for (number, section) in sections.enumerated() {
            var word = name + [UInt8(ascii: "*")] + Array(String(number).utf8)
            if ascii {
                word += [UInt8(ascii: "=")] + QuotedString.quoted(section)
            } else {
                word += Array("*=".utf8)
                if number == 0 { word += Array("UTF-8''".utf8) }
                word += percentEncoded(section)
            }
            writer.append(word + (number == sections.count - 1 ? suffix : [UInt8(ascii: ";")]), after: space)
        }
    }

    /// RFC 2231 attribute-char: token characters other than '*', '\'' and '%'.
    private static func isAttributeCharacter(_ byte: UInt8) -> Bool {
        MediaType.isTokenCharacter(byte) && byte != UInt8(ascii: "*") && byte != UInt8(ascii: "'")
            && byte != UInt8(ascii: "%")
    }

    private static func encodedLength(_ byte: UInt8, extended: Bool) -> Int {
        if extended { return isAttributeCharacter(byte) ? 1 : 3 }
        return byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") ? 2 : 1
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func percentEncoded(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            if isAttributeCharacter(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 15)])
            }
        }
        return out
    }

    /// Sections of whole characters, each short enough to sit on a line as
    /// ` name*NN*=...;` (the first also carrying `UTF-8''`).
    private static func split(_ value: [UInt8], name: [UInt8], extended: Bool) -> [ArraySlice<UInt8>] {
        var sections: [ArraySlice<UInt8>] = []
        var start = 0
        while start < value.count {
            // " " name "*" NN "*=" (or "=" and two quotes) ";" and, first, "UTF-8''".
            var room = HeaderWriter.foldColumn - 1 - name.count - 1 - String(sections.count).utf8.count - 3
            if !extended { room -= 1 }  // two quotes where "*" was
            if extended && sections.isEmpty { room -= 7 }
            var end = start
            var used = 0
            while end < value.count {
                let characterEnd = min(value.count, end + EncodedWord.characterLength(startingWith: value[end]))
                let cost = value[end..<characterEnd].reduce(0) { $0 + encodedLength($1, extended: extended) }
                if used + cost > room && end > start { break }
                used += cost
                end = characterEnd
            }
            sections.append(value[start..<end])
            start = end
        }
        return sections
    }
}
