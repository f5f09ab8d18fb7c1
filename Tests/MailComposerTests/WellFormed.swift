// What every composed message must be, whatever went into it: CRLF line
// ends only, no line over 998 octets, header lines over 78 only where a
// single word is longer, and the header section ending in a blank line.

import Testing

@testable import MailComposer

enum WellFormed {
    /// The message's lines, without their CRLF; records an issue for a bare CR or LF.
    static func lines(of message: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index < message.count {
            if message[index] == 13 && index + 1 < message.count && message[index + 1] == 10 {
                lines.append(message[start..<index])
                index += 2
                start = index
            } else {
                if message[index] == 13 || message[index] == 10 {
                    Issue.record("bare CR or LF at byte \(index)", sourceLocation: sourceLocation)
                }
                index += 1
            }
        }
        if start < message.count { lines.append(message[start...]) }
        return lines
    }

    static func check(_ message: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = lines(of: message, sourceLocation: sourceLocation)
        #expect(message.suffix(2) == [13, 10], "the message ends with CRLF", sourceLocation: sourceLocation)
        for line in lines {
            #expect(line.count <= 998, "a line of \(line.count) octets", sourceLocation: sourceLocation)
        }
        #expect(lines.contains { $0.isEmpty }, "a blank line ends the header", sourceLocation: sourceLocation)
    }

    /// The header section's lines (folded lines separate).
    static func headerLines(of message: [UInt8]) -> [String] {
        var result: [String] = []
        for line in lines(of: message) {
            if line.isEmpty { break }
            result.append(String(decoding: line, as: UTF8.self))
        }
        return result
    }

    /// Each header field of the message unfolded: (name, raw value).
    static func fields(of message: [UInt8]) -> [(name: String, value: String)] { unfolded(headerLines(of: message)) }

    /// Each header field of the message and of every part after it, unfolded.
    static func allFields(of message: [UInt8]) -> [(name: String, value: String)] {
        var headerLines: [String] = []
        var inHeader = true
        for line in lines(of: message).map({ String(decoding: $0, as: UTF8.self) }) {
            if inHeader && line.isEmpty {
                inHeader = false
            } else if inHeader {
                headerLines.append(line)
            } else if line.hasPrefix("--=_") && !line.hasSuffix("--") {
                inHeader = true
            }
        }
        return unfolded(headerLines)
    }

    private static func unfolded(_ lines: [String]) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for line in lines {
            if line.first == " " || line.first == "\t" {
                fields[fields.count - 1].value += line
            } else {
                let colon = line.firstIndex(of: ":")!
                fields.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return fields
    }
}
