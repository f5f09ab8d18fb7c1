// A text or HTML part's body: line breaks (CRLF, LF or a lone CR) become
// CRLF; 7bit when every line is short printable ASCII that no transport
// would touch, else quoted-printable (RFC 2045 6.7) with lines of at most 76.
// "From " starting a line and the boundary prefix "--=_" force QP, which hides both.
// Read front to back with a few bytes of look-ahead, so a text held in a
// spool file is encoded in pieces, never whole.

struct TextBody: Sendable {
    enum Encoding: Equatable, Sendable {
        case sevenBit, quotedPrintable
    }

    static let sevenBitLineLimit = 78
    static let quotedPrintableLineLimit = 76

    let content: PartContent
    /// The part ends the message: its last line must end in CRLF, which
    /// QP gives a text without a final line break by a soft one.
    let endsMessage: Bool
    let encoding: Encoding

    init(_ text: String, endsMessage: Bool) {
        self.init(PartContent(Array(text.utf8)), endsMessage: endsMessage)!
    }

    /// nil when the content could not be read.
    init?(_ content: PartContent, endsMessage: Bool) {
        let encoding: Encoding
        if let bytes = content.inMemory {
            encoding = bytes.withUnsafeBufferPointer { buffer in
                var text = MemoryText(bytes: buffer)
                return Self.choose(&text, endsMessage: endsMessage)
            }
        } else {
            var text = ContentReader(content)
            encoding = Self.choose(&text, endsMessage: endsMessage)
            if text.failed { return nil }
        }
        self.content = content
        self.endsMessage = endsMessage
        self.encoding = encoding
    }

    private static func choose(_ text: inout some TextBytes, endsMessage: Bool) -> Encoding {
        let count = text.count
        if endsMessage, count > 0 {
            let last = text.byte(at: count - 1)
            if last != 10 && last != 13 { return .quotedPrintable }
        }
        var lineStart = 0
        var index = 0
        if startsDangerously(&text, at: 0) { return .quotedPrintable }
        while index < count {
            let byte = text.byte(at: index)
            if byte == 10 || byte == 13 {
                if index - lineStart > sevenBitLineLimit { return .quotedPrintable }
                index += byte == 13 && index + 1 < count && text.byte(at: index + 1) == 10 ? 2 : 1
                lineStart = index
                if startsDangerously(&text, at: index) { return .quotedPrintable }
                continue
            }
            if (byte < 32 && byte != 9) || byte > 126 { return .quotedPrintable }
            index += 1
        }
        return count - lineStart > sevenBitLineLimit ? .quotedPrintable : .sevenBit
    }

    /// "From " (mbox files turn it into ">From ") or "--=_" (every boundary's
    /// start) at `offset`; neither holds a line break, so a match is on the line.
    private static func startsDangerously(_ text: inout some TextBytes, at offset: Int) -> Bool {
        starts(&text, at: offset, with: "From ") || starts(&text, at: offset, with: "--=_")
    }

    private static func starts(_ text: inout some TextBytes, at offset: Int, with prefix: StaticString) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard text.count - offset >= length else { return false }
        for index in 0..<length where text.byte(at: offset + index) != prefix.utf8Start[index] { return false }
        return true
    }

    /// Writes the encoded body; false when the content could not be read:
    /// straight from the bytes when they are in memory, else through a window.
    @discardableResult
    func write(into out: inout some ByteOutput) -> Bool {
        if let bytes = content.inMemory {
            bytes.withUnsafeBufferPointer { buffer in
                var text = MemoryText(bytes: buffer)
                write(&text, into: &out)
            }
            return true
        }
        var text = ContentReader(content)
        write(&text, into: &out)
        return !text.failed
    }

    private func write(_ text: inout some TextBytes, into out: inout some ByteOutput) {
        switch encoding {
        case .sevenBit: Self.writeSevenBit(&text, into: &out)
        case .quotedPrintable: Self.writeQuotedPrintable(&text, endsMessage: endsMessage, into: &out)
        }
    }

    /// The number of bytes `write` writes; nil when the content could not be read.
    func encodedCount() -> Int? {
        var counter = ByteCount()
        return write(into: &counter) ? counter.count : nil
    }

    private static func writeSevenBit(_ text: inout some TextBytes, into out: inout some ByteOutput) {
        let count = text.count
        var index = 0
        while index < count {
            let byte = text.byte(at: index)
            index += 1
            if byte == 13 || byte == 10 {
                if byte == 13 && index < count && text.byte(at: index) == 10 { index += 1 }
                out.put(13)
                out.put(10)
            } else {
                out.put(byte)
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Lines as QP lines joined by soft breaks ("=" CRLF).
    private static func writeQuotedPrintable(
        _ text: inout some TextBytes, endsMessage: Bool, into out: inout some ByteOutput
    ) {
        let count = text.count
        var column = 0
        var index = 0
        while index < count {
            let byte = text.byte(at: index)
            if byte == 10 || byte == 13 {
                index += byte == 13 && index + 1 < count && text.byte(at: index + 1) == 10 ? 2 : 1
                out.put(13)
                out.put(10)
                column = 0
                continue
            }
            var isLast = index + 1 == count
            if !isLast {
                let next = text.byte(at: index + 1)
                isLast = next == 10 || next == 13
            }
            let literal: Bool
            switch byte {
            case 33...60, 62...126:
                literal = !(column == 0 && byte == UInt8(ascii: "F") && starts(&text, at: index, with: "From "))
            case 32, 9: literal = !isLast
            default: literal = false
            }
            let width = literal ? 1 : 3
            // Room for the "=" of a soft break, unless this is the line's last character.
            let limit = isLast ? quotedPrintableLineLimit : quotedPrintableLineLimit - 1
            if column + width > limit {
                out.put(UInt8(ascii: "="))
                out.put(13)
                out.put(10)
                column = 0
                continue  // the byte is looked at again at the start of a line
            }
            if literal {
                out.put(byte)
            } else {
                out.put(UInt8(ascii: "="))
                out.put(hexDigits[Int(byte >> 4)])
                out.put(hexDigits[Int(byte & 15)])
            }
            column += width
            index += 1
        }
        if endsMessage && count > 0 {
            let last = text.byte(at: count - 1)
            if last != 10 && last != 13 {
                out.put(UInt8(ascii: "="))
                out.put(13)
                out.put(10)
            }
        }
    }
}

/// A text's bytes by offset, with `count`: in memory, or read through a window (ContentReader).
protocol TextBytes {
    var count: Int { get }
    mutating func byte(at offset: Int) -> UInt8
}

extension ContentReader: TextBytes {}

/// Bytes in memory, for the length of a `withUnsafeBufferPointer`.
private struct MemoryText: TextBytes {
    let bytes: UnsafeBufferPointer<UInt8>

    var count: Int { bytes.count }

    @inline(__always)
    func byte(at offset: Int) -> UInt8 { bytes[offset] }
}
