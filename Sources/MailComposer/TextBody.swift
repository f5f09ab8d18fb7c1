// A text or HTML part's body: line breaks (CRLF, LF or a lone CR) become
// CRLF; 7bit when every line is short printable ASCII that no transport
// would touch, else quoted-printable (RFC 2045 6.7) with lines of at most 76.
// "From " starting a line and the boundary prefix "--=_" force QP, which hides both.

struct TextBody {
    enum Encoding: Equatable {
        case sevenBit, quotedPrintable
    }

    static let sevenBitLineLimit = 78
    static let quotedPrintableLineLimit = 76

    let text: [UInt8]
    /// The part ends the message: its last line must end in CRLF, which
    /// QP gives a text without a final line break by a soft one.
    let endsMessage: Bool
    let encoding: Encoding

    init(_ text: String, endsMessage: Bool) {
        self.text = Array(text.utf8)
        self.endsMessage = endsMessage
        encoding = Self.choose(for: self.text, endsMessage: endsMessage)
    }

    private static func choose(for text: [UInt8], endsMessage: Bool) -> Encoding {
        if endsMessage, let last = text.last, last != 10 && last != 13 { return .quotedPrintable }
        return text.withUnsafeBufferPointer { bytes in
            var lineStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 10 || byte == 13 {
                    if index - lineStart > sevenBitLineLimit || startsDangerously(bytes, lineStart..<index) {
                        return .quotedPrintable
                    }
                    index += byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10 ? 2 : 1
                    lineStart = index
                    continue
                }
                if (byte < 32 && byte != 9) || byte > 126 { return .quotedPrintable }
                index += 1
            }
            let last = lineStart..<bytes.count
            return last.count > sevenBitLineLimit || startsDangerously(bytes, last) ? .quotedPrintable : .sevenBit
        }
    }

    /// "From " (mbox files turn it into ">From ") or "--=_" (every boundary's start).
    private static func startsDangerously(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> Bool {
        func starts(with prefix: StaticString) -> Bool {
            guard line.count >= prefix.utf8CodeUnitCount else { return false }
            return (0..<prefix.utf8CodeUnitCount).allSatisfy { bytes[line.lowerBound + $0] == prefix.utf8Start[$0] }
        }
        return starts(with: "From ") || starts(with: "--=_")
    }

    /// Calls `body` with each line's range and whether a line break ends it,
    /// until it returns false. A text ending in a break has no empty last line.
    private static func forEachLine(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>, Bool) -> Bool
    ) {
        var start = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 10 || byte == 13 {
                if !body(start..<index, true) { return }
                index += byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10 ? 2 : 1
                start = index
            } else {
                index += 1
            }
        }
        if start < bytes.count { _ = body(start..<bytes.count, false) }
    }

    func write(into out: inout [UInt8]) {
        text.withUnsafeBufferPointer { bytes in
            switch encoding {
            case .sevenBit:
                Self.forEachLine(bytes) { line, hasBreak in
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[line]))
                    if hasBreak {
                        out.append(13)
                        out.append(10)
                    }
                    return true
                }
            case .quotedPrintable:
                var endsWithBreak = false
                Self.forEachLine(bytes) { line, hasBreak in
                    Self.writeQuotedPrintable(bytes, line, into: &out)
                    if hasBreak {
                        out.append(13)
                        out.append(10)
                    }
                    endsWithBreak = hasBreak
                    return true
                }
                if endsMessage && !bytes.isEmpty && !endsWithBreak {
                    out.append(contentsOf: [UInt8(ascii: "="), 13, 10])
                }
            }
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// One line of text as QP lines joined by soft breaks ("=" CRLF).
    private static func writeQuotedPrintable(
        _ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>, into out: inout [UInt8]
    ) {
        var column = 0
        var index = line.lowerBound
        while index < line.upperBound {
            let byte = bytes[index]
            let isLast = index == line.upperBound - 1
            let literal: Bool
            switch byte {
            case 33...60, 62...126:
                literal = !(column == 0 && byte == UInt8(ascii: "F") && startsWithFrom(bytes, index, line))
            case 32, 9: literal = !isLast
            default: literal = false
            }
            let width = literal ? 1 : 3
            // Room for the "=" of a soft break, unless this is the line's last character.
            let limit = isLast ? quotedPrintableLineLimit : quotedPrintableLineLimit - 1
            if column + width > limit {
                out.append(UInt8(ascii: "="))
                out.append(13)
                out.append(10)
                column = 0
                continue  // the byte is looked at again at the start of a line
            }
            if literal {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "="))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 15)])
            }
            column += width
            index += 1
        }
    }

    private static func startsWithFrom(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ line: Range<Int>) -> Bool {
        let from: StaticString = "From "
        guard line.upperBound - index >= from.utf8CodeUnitCount else { return false }
        return (0..<from.utf8CodeUnitCount).allSatisfy { bytes[index + $0] == from.utf8Start[$0] }
    }
}
