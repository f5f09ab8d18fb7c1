// Writes one header field, folding it (RFC 5322 2.2.3) so that lines stay
// within 78 columns where the words allow, and never past 998: a field that
// cannot fold short enough says so, and its caller refuses. Words arrive
// with the white space before them, which folding keeps.

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

    /// Whether a fold may go into `whitespace`: before its last character,
    /// which must be a space. Perl's Email::Simple unfolds a line break and
    /// all the white space after it into one space, so one space is all that
    /// may follow a CRLF; the rest of a run stays at the end of the line.
    private func canFold(_ whitespace: some BidirectionalCollection<UInt8>) -> Bool {
        hasValue && whitespace.last == 0x20
    }

    private mutating func writeFolded(_ whitespace: some BidirectionalCollection<UInt8>) {
        bytes.append(contentsOf: whitespace.dropLast())
        bytes.append(contentsOf: [13, 10, 0x20])
        column = 1
    }

    /// Appends `word` after `whitespace` (nothing, or the SP/TAB run that
    /// precedes it), folding first when the line would pass 78 columns.
    mutating func append(_ word: some Collection<UInt8>, after whitespace: some BidirectionalCollection<UInt8>) {
        if canFold(whitespace) && column + whitespace.count + word.count > Self.foldColumn {
            writeFolded(whitespace)
        } else {
            bytes.append(contentsOf: whitespace)
            column += whitespace.count
        }
        bytes.append(contentsOf: word)
        column += word.count
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
        let roomOnFreshLine = min(EncodedWord.maximumLength, Self.foldColumn - 1)
        var rest = text
        var separator = whitespace
        while !rest.isEmpty {
            let here = EncodedWord.prefixFitting(
                rest, in: min(EncodedWord.maximumLength, Self.foldColumn - column - separator.count), encoding)
            let onFreshLine = EncodedWord.prefixFitting(rest, in: roomOnFreshLine, encoding)
            func splitsCleanly(_ taken: Int) -> Bool {
                taken == rest.count || rest[rest.startIndex + taken - 1] == 0x20
            }
            var taken = here
            if canFold(separator)
                && (here == 0 || (onFreshLine == rest.count && here < rest.count)
                    || (!splitsCleanly(here) && onFreshLine > here && splitsCleanly(onFreshLine)))
            {
                writeFolded(separator)
                taken = onFreshLine
            } else {
                bytes.append(contentsOf: separator)
                column += separator.count
            }
            // No room and no place to fold: one character, and the line grows.
            if taken == 0 { taken = EncodedWord.characterLength(startingWith: rest.first!) }
            let before = bytes.count
            EncodedWord.write(rest.prefix(taken), encoding, into: &bytes)
            column += bytes.count - before
            hasValue = true
            if column > Self.lineLimit { isOverlong = true }
            rest = rest.dropFirst(taken)
            separator = Self.space
        }
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
