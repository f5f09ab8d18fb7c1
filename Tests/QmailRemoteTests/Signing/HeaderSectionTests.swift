// The header fields as signing sees them: fields and folding, where the
// body starts, in any pieces; and every header that is not RFC 5322 enough
// to sign (continuation first, no colon, NUL, no separator, too large).

import Testing

@testable import QmailRemote

@Suite struct HeaderSectionTests {
    /// Feeds `text` in pieces of `piece` bytes; the header and the body bytes after it.
    func read(_ text: String, piece: Int = 1 << 20, finish: Bool = true) -> (HeaderSection, String) {
        var header = HeaderSection()
        let bytes = Array(text.utf8)
        var body: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + piece, bytes.count)])
            let taken = chunk.withUnsafeBytes { header.consume($0) }
            if header.state != .reading {
                body += chunk[taken...]
                body += bytes[min(index + piece, bytes.count)...]
                break
            }
            index += piece
        }
        if finish { header.finish() }
        return (header, String(decoding: body, as: UTF8.self))
    }

    @Test(arguments: [1, 2, 7, 4096])
    func fieldsFoldingAndTheBody(piece: Int) {
        let (header, body) = read(
            "From: a@x.test\r\nSubject: one\r\n\ttwo\r\n  three\r\nTo: b@y.test\r\n\r\nbody\r\n", piece: piece)
        #expect(header.state == .complete)
        #expect(
            header.fields.map { String(decoding: $0, as: UTF8.self) } == [
                "From: a@x.test", "Subject: one\r\n\ttwo\r\n  three", "To: b@y.test",
            ])
        #expect(body == "body\r\n")
    }

    @Test func anEmptyFirstLineIsAnEmptyHeader() {
        let (header, body) = read("\r\nbody\r\n")
        #expect(header.state == .complete && header.fields.isEmpty && body == "body\r\n")
    }

    @Test func anEmptyBodyIsFine() {
        let (header, body) = read("From: a@x.test\r\n\r\n")
        #expect(header.state == .complete && body.isEmpty)
    }

    @Test func blanksBeforeTheColonAreAllowed() {
        #expect(read("Subject : x\r\n\r\n").0.state == .complete)
    }

    @Test(arguments: [
        ("\tcontinued\r\nFrom: a@x.test\r\n\r\n", "a continuation line before any field"),
        ("From: a@x.test\r\nnot a field\r\n\r\n", "a header line that is not a field"),
        (": no name\r\n\r\n", "a header line that is not a field"),
        ("Na me: x\r\n\r\n", "a header line that is not a field"),
        ("From: a@x.test\r\nX: a\0b\r\n\r\n", "a NUL byte in the header"),
        ("From: a@x.test\r\nSubject: no separator\r\n", "no empty line between the header and the body"),
        ("", "no empty line between the header and the body"),
    ])
    func notSignable(text: String, why: String) {
        #expect(read(text).0.state == .invalid(why))
    }

    @Test func aHugeHeaderIsNotSigned() {
        let field = "X-Filler: " + String(repeating: "y", count: 1000) + "\r\n"
        let (header, _) = read(
            String(repeating: field, count: HeaderSection.byteLimit / field.utf8.count + 1), piece: 65536, finish: false
        )
        #expect(header.state == .invalid("the header is larger than \(HeaderSection.byteLimit) bytes"))
    }

    @Test func fieldsByNameIgnoreCase() {
        let (header, _) = read("from: a@x.test\r\nFrom-Extra: x\r\nFROM : b@y.test\r\nX-From: z\r\n\r\n")
        #expect(
            header.fields(named: "From").map { String(decoding: $0, as: UTF8.self) } == [
                "from: a@x.test", "FROM : b@y.test",
            ])
    }
}
