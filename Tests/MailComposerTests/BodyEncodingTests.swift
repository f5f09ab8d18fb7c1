// Part bodies on their own: when text stays 7bit and when it becomes
// quoted-printable, what QP escapes and how it wraps, base64 at 76 columns,
// line breaks normalized, and boundaries that no content can contain.

import Testing

@testable import MailComposer

@Suite struct BodyEncodingTests {
    func body(_ text: String, endsMessage: Bool = false) -> (TextBody.Encoding, String) {
        let body = TextBody(text, endsMessage: endsMessage)
        var out: [UInt8] = []
        body.write(into: &out)
        return (body.encoding, String(decoding: out, as: UTF8.self))
    }

    @Test func shortPrintableASCIIStays7bitWithCRLF() {
        #expect(body("Hello\nworld\n") == (.sevenBit, "Hello\r\nworld\r\n"))
        #expect(body("tab\tand ~{}|\n") == (.sevenBit, "tab\tand ~{}|\r\n"))
        #expect(body(String(repeating: "x", count: 78)).0 == .sevenBit)
        #expect(body("") == (.sevenBit, ""))
    }

    @Test func lineBreaksOfEveryKindBecomeCRLF() {
        #expect(body("a\rb\r\nc\nd\n\re") == (.sevenBit, "a\r\nb\r\nc\r\nd\r\n\r\ne"))
        #expect(body("é\rb\r\nc\n").1 == "=C3=A9\r\nb\r\nc\r\n")
    }

    @Test func whatForcesQuotedPrintable() {
        #expect(body(String(repeating: "x", count: 79)).0 == .quotedPrintable)
        #expect(body("café\n").0 == .quotedPrintable)
        #expect(body("nul\u{0}\n").1 == "nul=00\r\n")
        #expect(body("bell\u{7}\n").1 == "bell=07\r\n")
        #expect(body("From the start\n").1 == "=46rom the start\r\n")
        #expect(body("ok\nFrom here\n").1 == "ok\r\n=46rom here\r\n")
        #expect(body("Fromage\n") == (.sevenBit, "Fromage\r\n"))
        #expect(body("--=_not a boundary\n").1 == "--=3D_not a boundary\r\n")
        #expect(body("-- signature\n").0 == .sevenBit)
    }

    @Test func quotedPrintableEscapesEqualsAndTrailingWhiteSpace() {
        #expect(body("a=b \u{E9}\n").1 == "a=3Db =C3=A9\r\n")
        #expect(body("trailing \nspace\t\n\u{E9}").1 == "trailing=20\r\nspace=09\r\n=C3=A9")
        #expect(body("é  mid  spaces").1 == "=C3=A9  mid  spaces")
    }

    @Test func quotedPrintableLinesAreAtMost76AndDecodeBack() {
        for text in [
            String(repeating: "é", count: 200), String(repeating: "a", count: 5000),
            String(repeating: "ab=", count: 100) + " ", String(repeating: "x", count: 75) + "From here",
            String(repeating: "x", count: 73) + "é" + String(repeating: "y", count: 10),
        ] {
            let (encoding, encoded) = body(text)
            #expect(encoding == .quotedPrintable)
            let lines = encoded.components(separatedBy: "\r\n")
            #expect(lines.allSatisfy { $0.utf8.count <= 76 })
            #expect(!lines.contains { $0.hasPrefix("From ") })
            #expect(Self.decodeQuotedPrintable(encoded) == Array(text.utf8))
        }
    }

    @Test func aMessageEndingInTextWithoutALineBreakEndsWithASoftOne() {
        #expect(body("Thanks!", endsMessage: true) == (.quotedPrintable, "Thanks!=\r\n"))
        #expect(body("Thanks!\n", endsMessage: true) == (.sevenBit, "Thanks!\r\n"))
        #expect(body("Thanks!", endsMessage: false) == (.sevenBit, "Thanks!"))
        #expect(body("", endsMessage: true) == (.sevenBit, ""))
    }

    @Test func base64WrapsAt76WithoutAFinalLineBreak() {
        for count in [0, 1, 2, 3, 56, 57, 58, 114, 1000] {
            let input = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let out = [UInt8](unsafeUninitializedCapacity: Base64Lines.encodedLength(count) + 8) {
                buffer, initialized in
                initialized = input.withUnsafeBytes { Base64Lines.encode($0, into: buffer.baseAddress!) }
            }
            #expect(out.count == Base64Lines.encodedLength(count))
            let text = String(decoding: out, as: UTF8.self)
            let lines = text.components(separatedBy: "\r\n")
            #expect(lines.dropLast().allSatisfy { $0.utf8.count == 76 } && (lines.last!.utf8.count <= 76))
            #expect(Base64Decoding.decode(lines.joined()) == input)
        }
    }

    @Test func boundariesStartWithEqualsUnderscoreAndDiffer() {
        var random = SeededGenerator(seed: 3)
        let token = RandomText.token(using: &random)
        let first = RandomText.boundary(token: token, number: 1)
        let second = RandomText.boundary(token: token, number: 2)
        #expect(first.starts(with: Array("=_".utf8)) && first.count == second.count && first != second)
        #expect(token.count == 25 && token != RandomText.token(using: &random))
    }

    @Test func contentThatImitatesABoundaryCannotEndAPart() throws {
        // The seeded boundaries are known here; a client cannot know them, and
        // even knowing them cannot put them at the start of a line.
        var probe = SeededGenerator(seed: 7)
        let boundary = String(
            decoding: RandomText.boundary(token: RandomText.token(using: &probe), number: 1), as: UTF8.self)
        let hostile = "before\n--\(boundary)\nContent-Type: text/html\n\n<script>\n--\(boundary)--\n"
        let message = try RoundTrip.compose(
            Composition(from: .text("a@example.org"), to: [.text("b@example.org")], text: hostile, html: hostile))
        let lines = WellFormed.lines(of: message.bytes).map { String(decoding: $0, as: UTF8.self) }
        // The composer's own: two parts' openings and the close; the client's are escaped.
        #expect(lines.filter { $0.hasPrefix("--=_") } == ["--\(boundary)", "--\(boundary)", "--\(boundary)--"])
        #expect(lines.filter { $0 == "--=3D\(boundary.dropFirst())" }.count == 2)
    }

    static func decodeQuotedPrintable(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "=") {
                if bytes.starts(with: [13, 10]) {
                    bytes = bytes.dropFirst(2)
                } else {
                    out.append(UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)!)
                    bytes = bytes.dropFirst(2)
                }
            } else if byte == 13 && bytes.first == 10 {
                bytes = bytes.dropFirst()
                out.append(10)
            } else {
                out.append(byte)
            }
        }
        return out
    }
}
