// MailboxText: RFC 5321 quoting of local parts, and the refusal of bytes
// that must never reach the wire.

import Testing
@testable import QmailRemote

@Suite struct MailboxTextTests {
    @Test(arguments: [
        ("a@x", "a@x"), ("john doe@x", "\"john doe\"@x"), ("a..b@x", "\"a..b\"@x"),
        (".lead@x", "\".lead\"@x"), ("trail.@x", "\"trail.\"@x"), ("q\"uote@x", "\"q\\\"uote\"@x"),
        ("back\\slash@x", "\"back\\\\slash\"@x"), ("a@b@x", "\"a@b\"@x"), ("noat", "noat"), ("", ""),
        ("@x", "\"\"@x"), ("o'brien+tag@x", "o'brien+tag@x"),
    ])
    func rendering(address: String, sent: String) {
        #expect(MailboxText.render(Array(address.utf8)) == Array(sent.utf8))
    }

    @Test func controlBytesAreRefusedAnywhere() {
        for bad in ["a\r@x", "a@x\n", "a\u{0}@x", "a\t@x", "a@x\u{7f}"] {
            #expect(MailboxText.problem(in: Array(bad.utf8)) == .controlCharacter)
        }
    }

    @Test func spaceAndAngleBracketsAreRefusedOutsideTheQuotedPart() {
        #expect(MailboxText.problem(in: Array("a@x y".utf8)) == .unquotableCharacter)
        #expect(MailboxText.problem(in: Array("a@x>".utf8)) == .unquotableCharacter)
        #expect(MailboxText.problem(in: Array("no at>".utf8)) == .unquotableCharacter)
        #expect(MailboxText.problem(in: Array("john <doe>@x".utf8)) == nil)
    }
}
