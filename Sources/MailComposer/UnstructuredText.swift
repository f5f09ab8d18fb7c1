// Writes free text (Subject, extra header values) as an unstructured field
// (RFC 5322 3.2.5): words as they are, folded at the white space between
// them; runs of words with non-ASCII or "=?" in them become encoded words,
// and so (where `encodeLongWords`) do words too long for a line of their own.

enum UnstructuredText {
    /// Leading and trailing white space is dropped; the rest is kept exactly.
    static func write(_ text: String, into writer: inout HeaderWriter, encodeLongWords: Bool) {
        let bytes = Array(text.utf8)
        let trimmed = FieldText.trimmed(bytes[...])
        let (start, end) = (trimmed.startIndex, trimmed.endIndex)

        func needsEncoding(_ word: ArraySlice<UInt8>) -> Bool {
            if encodeLongWords && word.count >= HeaderWriter.foldColumn { return true }
            var previous: UInt8 = 0
            for byte in word {
                if byte > 127 || (previous == UInt8(ascii: "=") && byte == UInt8(ascii: "?")) { return true }
                previous = byte
            }
            return false
        }

        // Each word with the white space before it; the first gets the space after the colon.
        var words: [(space: ArraySlice<UInt8>, word: ArraySlice<UInt8>)] = []
        var index = start
        while index < end {
            let spaceStart = index
            while index < end, bytes[index] == 0x20 || bytes[index] == 9 { index += 1 }
            let wordStart = index
            while index < end, bytes[index] != 0x20 && bytes[index] != 9 { index += 1 }
            words.append((bytes[spaceStart..<wordStart], bytes[wordStart..<index]))
        }

        var position = 0
        while position < words.count {
            let space = position == 0 ? [0x20] : Array(words[position].space)
            guard needsEncoding(words[position].word) else {
                writer.append(words[position].word, after: space)
                position += 1
                continue
            }
            // The run's inner white space is encoded with it: it would be lost between encoded words.
            let runStart = words[position].word.startIndex
            var runEnd = words[position].word.endIndex
            position += 1
            while position < words.count, needsEncoding(words[position].word) {
                runEnd = words[position].word.endIndex
                position += 1
            }
            writer.appendEncoded(bytes[runStart..<runEnd], after: space)
        }
    }
}
