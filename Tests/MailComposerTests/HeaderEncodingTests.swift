// Header writing on its own: the Date field, folding at 78 columns,
// RFC 2047 encoded words (at most 75 characters, whole characters, Q or B
// by length) and RFC 2231 parameters (sections on whole characters).

import Testing

@testable import MailComposer

@Suite struct HeaderEncodingTests {
    @Test(arguments: [
        (Int64(0), 0, "Thu, 01 Jan 1970 00:00:00 +0000"),
        (1_739_451_785, 3600, "Thu, 13 Feb 2025 14:03:05 +0100"),
        (951_782_400, -19800, "Mon, 28 Feb 2000 18:30:00 -0530"),
        (1_709_168_399, 0, "Thu, 29 Feb 2024 00:59:59 +0000"),
        (4_107_542_399, 20700, "Mon, 01 Mar 2100 05:44:59 +0545"),
        (253_402_300_799, 0, "Fri, 31 Dec 9999 23:59:59 +0000"),
        (-1, 0, "Wed, 31 Dec 1969 23:59:59 +0000"),
    ])
    func datesAreWrittenAsRFC5322Has(seconds: Int64, offset: Int, expected: String) {
        let date = MessageDate(secondsSinceEpoch: seconds, utcOffsetSeconds: offset)
        #expect(String(decoding: date.rendered, as: UTF8.self) == expected)
    }

    func field(_ write: (inout HeaderWriter) -> Void) -> [UInt8] {
        var writer = HeaderWriter(name: "Subject")
        write(&writer)
        return writer.finish()
    }

    func subject(_ text: String) -> [UInt8] {
        field { UnstructuredText.write(text, into: &$0, encodeLongWords: true) }
    }

    func lines(_ bytes: [UInt8]) -> [String] { WellFormed.headerLines(of: bytes + [13, 10]) }

    /// The encoded words in `bytes`, as (encoding letter, encoded text).
    func encodedWords(_ bytes: [UInt8]) -> [(Character, String)] {
        let text = String(decoding: bytes, as: UTF8.self)
        var words: [(Character, String)] = []
        var rest = Substring(text)
        while let start = rest.range(of: "=?UTF-8?") {
            let afterPrefix = rest[start.upperBound...]
            let letter = afterPrefix.first!
            let payloadStart = afterPrefix.index(afterPrefix.startIndex, offsetBy: 2)
            let end = rest[payloadStart...].range(of: "?=")!
            words.append((letter, String(rest[payloadStart..<end.lowerBound])))
            #expect(rest.distance(from: start.lowerBound, to: end.upperBound) <= 75)
            rest = rest[end.upperBound...]
        }
        return words
    }

    func decoded(_ word: (Character, String)) -> [UInt8] {
        if word.0 == "B" { return Base64Decoding.decode(word.1) }
        var out: [UInt8] = []
        var bytes = Array(word.1.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "_") {
                out.append(0x20)
            } else if byte == UInt8(ascii: "=") {
                out.append(UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)!)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return out
    }

    @Test func shortASCIISubjectsAreWrittenAsTheyAre() {
        #expect(subject("Your order 42") == Array("Subject: Your order 42\r\n".utf8))
        #expect(subject("  padded\t") == Array("Subject: padded\r\n".utf8))
        #expect(subject("") == Array("Subject:\r\n".utf8))
    }

    @Test func longSubjectsFoldBeforeWhiteSpaceWithin78Columns() {
        let text = (1...40).map { "word\($0)" }.joined(separator: " ")
        let written = lines(subject(text))
        #expect(written.count > 2 && written.allSatisfy { $0.utf8.count <= 78 })
        #expect(written.dropFirst().allSatisfy { $0.hasPrefix(" ") })
        #expect(written.joined() == "Subject: " + text)
    }

    @Test(arguments: [
        "Ваш заказ №42 готов к выдаче в пункте самовывоза на улице Льва Толстого, дом 16",
        "ご注文ありがとうございます。商品は明日発送いたします。お届けまでしばらくお待ちください。",
        "🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉 👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦",
        "Café crème brûlée – déjà vu à la française, s’il vous plaît, encore une fois",
    ])
    func encodedWordsHoldWholeCharactersWithin75Columns(text: String) {
        let bytes = subject(text)
        #expect(lines(bytes).allSatisfy { $0.utf8.count <= 78 })
        let words = encodedWords(bytes)
        #expect(words.count > 1)
        for word in words {
            #expect(String(validating: decoded(word), as: UTF8.self) != nil, "word \(word.1) splits a character")
        }
    }

    @Test func theShorterEncodingIsChosen() {
        #expect(encodedWords(subject("Zurückgekehrt")).map(\.0) == ["Q"])
        #expect(encodedWords(subject("Привет")).map(\.0) == ["B"])
        #expect(encodedWords(subject("日本")).map(\.0) == ["B"])
    }

    @Test func whiteSpaceBetweenEncodedWordsIsCarriedInsideThem() {
        // Two non-ASCII words in a row are one run: the space between them is encoded.
        let words = encodedWords(subject("a héllo wörld b"))
        #expect(words.count == 1 && decoded(words[0]) == Array("héllo wörld".utf8))
        let written = String(decoding: subject("a héllo wörld b"), as: UTF8.self)
        #expect(written.hasPrefix("Subject: a =?UTF-8?") && written.hasSuffix("?= b\r\n"))
    }

    @Test func textThatLooksEncodedIsEncodedSoItReadsBackLiterally() {
        let words = encodedWords(subject("=?UTF-8?Q?Bcc:_x=0D=0A?="))
        #expect(words.count == 1 && decoded(words[0]) == Array("=?UTF-8?Q?Bcc:_x=0D=0A?=".utf8))
    }

    @Test func displayNames() throws {
        func to(_ name: String?, _ address: String = "bob@example.com") throws -> String {
            let mailbox = try Mailbox(.parts(name: name, address: address), label: FieldLabel("to"))
            let bytes = field { Mailbox.write([mailbox], into: &$0) }
            return String(decoding: bytes.dropFirst(8).dropLast(2), as: UTF8.self)
        }
        #expect(try to(nil) == " bob@example.com")
        #expect(try to("Bob Smith") == " Bob Smith <bob@example.com>")
        #expect(try to("Smith, Bob") == " \"Smith, Bob\" <bob@example.com>")
        #expect(try to("Bob \"The Builder\" O\\Neil") == " \"Bob \\\"The Builder\\\" O\\\\Neil\" <bob@example.com>")
        #expect(try to("Zoë") == " =?UTF-8?Q?Zo=C3=AB?= <bob@example.com>")
        #expect(try to("John Q. Public", "\"john q\"@example.com") == " \"John Q. Public\" <\"john q\"@example.com>")
        #expect(try to("a", "jöhn@example.com") == " a <jöhn@example.com>")
    }

    @Test func longDisplayNamesStartOnTheirOwnLineRatherThanSplit() throws {
        let first = try Mailbox(.text("Bob <bob@example.com>"), label: FieldLabel("to"))
        let second = try Mailbox(
            .parts(name: "Ярослав Мудрый Киевский", address: "j@example.net"), label: FieldLabel("to"))
        let bytes = field { Mailbox.write([first, second], into: &$0) }
        #expect(encodedWords(bytes).count == 1)
        #expect(lines(bytes).allSatisfy { $0.utf8.count <= 78 })
    }

    func parameter(_ name: String, _ value: String) -> [String] {
        let bytes = field { writer in
            writer.append(Array("x;".utf8), after: [0x20])
            Parameter.write(name: Array(name.utf8), value: Array(value.utf8), isLast: true, quoted: true, into: &writer)
        }
        return lines(bytes)
    }

    @Test func parametersQuotedExtendedOrContinued() {
        #expect(parameter("filename", "a.pdf") == ["Subject: x; filename=\"a.pdf\""])
        #expect(parameter("filename", "a \"b\".pdf") == ["Subject: x; filename=\"a \\\"b\\\".pdf\""])
        #expect(parameter("filename", "Счёт.pdf") == ["Subject: x; filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82.pdf"])
        let long = String(repeating: "abcdefghij", count: 12) + ".txt"
        let continued = parameter("filename", long)
        #expect(continued.count == 3 && continued.allSatisfy { $0.utf8.count <= 78 })
        #expect(continued[1].hasPrefix(" filename*0=\"abc") && continued[2].hasPrefix(" filename*1=\""))
    }

    @Test func extendedSectionsEndOnWholeCharacters() {
        let written = parameter("filename", String(repeating: "日本語のファイル名", count: 6) + ".pdf")
        #expect(written.count > 3 && written.allSatisfy { $0.utf8.count <= 78 })
        for line in written.dropFirst() {
            let value = line.split(separator: "=", maxSplits: 1)[1].replacingOccurrences(of: "UTF-8''", with: "")
                .trimmingSuffix(";")
            var bytes: [UInt8] = []
            var rest = Array(value.utf8)[...]
            while let byte = rest.popFirst() {
                if byte == UInt8(ascii: "%") {
                    bytes.append(UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16)!)
                    rest = rest.dropFirst(2)
                } else {
                    bytes.append(byte)
                }
            }
            #expect(String(validating: bytes, as: UTF8.self) != nil, "\(line) splits a character")
        }
    }

    @Test func fieldsThatCannotFoldWithin998AreFlagged() {
        var writer = HeaderWriter(name: "X-Token")
        writer.append(Array(repeating: UInt8(ascii: "a"), count: 989), after: [0x20])
        #expect(!writer.isOverlong)
        writer.append(Array(repeating: UInt8(ascii: "a"), count: 1), after: [])
        #expect(writer.isOverlong)
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// Base64 decoding for reading encoded words back in tests.
enum Base64Decoding {
    static func decode(_ text: String) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.utf8 where byte != UInt8(ascii: "=") {
            buffer = buffer << 6 | UInt32(alphabet.firstIndex(of: byte)!)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
