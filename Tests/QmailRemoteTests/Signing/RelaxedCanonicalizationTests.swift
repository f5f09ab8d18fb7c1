// The relaxed canonical forms (RFC 6376 3.4.2, 3.4.4): RFC 6376's own
// example (3.4.5), blanks, folding, empty lines at the end, an empty body,
// and the body fed in pieces of any size giving the same bytes.

import Testing

@testable import QmailRemote

@Suite struct RelaxedCanonicalizationTests {
    func header(_ field: String) -> String {
        String(decoding: RelaxedHeader.canonical(Array(field.utf8)), as: UTF8.self)
    }

    func body(_ text: String, piece: Int = .max) -> String {
        var relaxed = RelaxedBody()
        var output: [UInt8] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + piece)
            bytes[start..<end].withUnsafeBytes { relaxed.take($0, into: &output) }
            start = end
        }
        return String(decoding: output, as: UTF8.self)
    }

    @Test func rfc6376Example() {
        // 3.4.5: "A: X", "B : Y<HTAB><CRLF><SP>Z  " and the body " C <CRLF>D <HTAB> E<CRLF><CRLF><CRLF>".
        #expect(header("A: X") == "a:X")
        #expect(header("B : Y\t\r\n\tZ  ") == "b:Y Z")
        #expect(body(" C \r\nD \t E\r\n\r\n\r\n") == " C\r\nD E\r\n")
    }

    @Test func headerNamesLowerValuesAsWritten() {
        #expect(header("Subject:  Hello   World ") == "subject:Hello World")
        #expect(header("SUBJECT:x") == "subject:x")
        #expect(header("To: a@b,\r\n  c@d") == "to:a@b, c@d")
        #expect(header("X-Empty:") == "x-empty:")
        #expect(header("X-Blank:   \r\n  ") == "x-blank:")
        #expect(header("Name\t :\tv") == "name:v")
    }

    @Test func emptyLinesCountOnlyBeforeText() {
        #expect(body("") == "")
        #expect(body("\r\n") == "")
        #expect(body("\r\n\r\n \t \r\n") == "")
        #expect(body("a\r\n\r\n\r\nb\r\n\r\n") == "a\r\n\r\n\r\nb\r\n")
        #expect(body("\r\n  \r\nx\r\n") == "\r\n\r\nx\r\n")
        #expect(body("trailing   \r\n\tlead\r\n") == "trailing\r\n lead\r\n")
    }

    @Test func anyPiecesGiveTheSameBytes() {
        let text = "  a  b\t\tc \r\n\r\n \r\nd\r\n\t\r\n e \r\n\r\n\r\n"
        let whole = body(text)
        for piece in 1...9 { #expect(body(text, piece: piece) == whole) }
    }
}
