// Writes one header field, folding it (RFC 5322 2.2.3) before white space so
// that lines stay within 78 columns where the words allow, and never past
// 998: a field that cannot fold short enough says so, and its caller refuses.
// Words arrive with the white space before them, which folding keeps.

struct HeaderWriter {
    static let foldColumn = 78
    static let lineLimit = 998
    static let space: [UInt8] = [0x20]

    /// What the field is appended to (MessageAssembly lends its buffer).
    var bytes: [UInt8] = []
    private var column = 0
    private var hasValue = false
    /// Whether some line passed 998 octets.
    private(set) var isOverlong = false

    init() {}

    /// A field of its own, taken with `finish`.
    init(name: some StringProtocol) { begin(name) }

    mutating func begin(_ name: some StringProtocol) {
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: ":"))
        column = name.utf8.count + 1
        hasValue = false
    }

    /// Appends `word` after `whitespace` (nothing, or the SP/TAB run that
    /// precedes it), folding first when the line would pass 78 columns.
    mutating func append(_ word: some Collection<UInt8>, after whitespace: some Collection<UInt8>) {
        if !whitespace.isEmpty && hasValue && column + whitespace.count + word.count > Self.foldColumn {
            bytes.append(13)
            bytes.append(10)
            column = 0
        }
        bytes.append(contentsOf: whitespace)
        bytes.append(contentsOf: word)
        column += whitespace.count + word.count
        hasValue = true
        if column > Self.lineLimit { isOverlong = true }
    }

    /// Appends UTF-8 `text` as RFC 2047 encoded words after `whitespace`,
    /// split only between characters, as many per line as fit. The white
    /// space between two encoded words is not part of the text (RFC 2047 6.2).
    ///
    /// Python's parser wrongly keeps that white space inside display names,
    /// so a line is folded early when that avoids a split (the rest fits a
    /// fresh line whole) or moves it from inside a word to after a space.
    mutating func appendEncoded(_ text: ArraySlice<UInt8>, after whitespace: [UInt8]) {
        let encoding = EncodedWord.Encoding.shorter(for: text)
        var rest = text
        var separator = whitespace
        while !rest.isEmpty {
            let roomOnFreshLine = min(EncodedWord.maximumLength, Self.foldColumn - separator.count)
            let here = EncodedWord.prefixFitting(
                rest, in: min(roomOnFreshLine, Self.foldColumn - column - separator.count), encoding)
            let onFreshLine = EncodedWord.prefixFitting(rest, in: roomOnFreshLine, encoding)
            func splitsCleanly(_ taken: Int) -> Bool {
                taken == rest.count || rest[rest.startIndex + taken - 1] == 0x20
            }
            var taken = here
            if hasValue
                && (here == 0 || (onFreshLine == rest.count && here < rest.count)
                    || (!splitsCleanly(here) && onFreshLine > here && splitsCleanly(onFreshLine)))
            {
                bytes.append(13)
                bytes.append(10)
                column = 0
                taken = onFreshLine
            }
            // White space too wide for any line: one character, and the field is overlong.
            if taken == 0 { taken = EncodedWord.characterLength(startingWith: rest.first!) }
            bytes.append(contentsOf: separator)
            let before = bytes.count
            EncodedWord.write(rest.prefix(taken), encoding, into: &bytes)
            column += separator.count + bytes.count - before
            hasValue = true
            rest = rest.dropFirst(taken)
            separator = [0x20]
        }
        if column > Self.lineLimit { isOverlong = true }
    }

    /// Ends the field with CRLF.
    mutating func end() {
        bytes.append(13)
        bytes.append(10)
    }

    /// The field with its final CRLF.
    consuming func finish() -> [UInt8] {
        end()
        return bytes
    }
}
