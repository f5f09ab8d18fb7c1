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

@Suite struct MailboxLengthTests {
    /// An address of `length` bytes as sent, local part quoted or not.
    func address(sentLength length: Int, quoted: Bool) -> [UInt8] {
        let domain = Array("@x.test".utf8)
        if !quoted { return Array(repeating: UInt8(ascii: "a"), count: length - domain.count) + domain }
        // "a b a b ..." is quoted: two quotes more when sent.
        return (0..<(length - domain.count - 2)).map { $0 % 2 == 0 ? UInt8(ascii: "a") : 32 } + domain
    }

    @Test func theLongestAddressStillFitsAMAILLineWithEveryParameter() {
        let longest = address(sentLength: MailboxText.longestRendering, quoted: false)
        #expect(MailboxText.problem(in: longest) == nil)
        let line = Command.mailFrom(
            longest, parameters: ["SIZE=9223372036854775807", "BODY=8BITMIME", "SMTPUTF8"], utf8: false)
        #expect(line.count == 512)
    }

    @Test(arguments: [false, true])
    func oneMoreOctetIsTooLong(quoted: Bool) {
        #expect(MailboxText.problem(in: address(sentLength: MailboxText.longestRendering, quoted: quoted)) == nil)
        #expect(
            MailboxText.problem(in: address(sentLength: MailboxText.longestRendering + 1, quoted: quoted)) == .tooLong)
    }

    @Test func otherProblemsComeFirst() {
        #expect(MailboxText.problem(in: Array(repeating: 10, count: 600)) == .controlCharacter)
        #expect(
            MailboxText.problem(in: Array(String(repeating: "a", count: 600).utf8) + Array("@x y".utf8))
                == .unquotableCharacter)
    }
}
