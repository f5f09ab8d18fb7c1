// ReplyCode: qmail's arithmetic on the first three bytes, and the one table
// of what a code means.

import Testing
@testable import QmailRemote

@Suite struct ReplyCodeTests {
    @Test func digitsReadAsNumber() {
        #expect(ReplyCode(firstLine: Array("250 ok".utf8)).value == 250)
        #expect(ReplyCode(firstLine: Array("421".utf8)).value == 421)
    }

    @Test func nonDigitsStillCountAsBytesMinusZero() {
        // 'a' - '0' = 49: 49*100 + 50*10 + 51 = 5451, a permanent code.
        #expect(ReplyCode(firstLine: Array("abc".utf8)).value == 5451)
        #expect(ReplyCode(firstLine: Array("abc".utf8)).verdict == .permanent)
    }

    @Test func shortFirstLineIsPermanentNotSuccess() {
        #expect(ReplyCode(firstLine: Array("2".utf8)).verdict == .permanent)
        #expect(ReplyCode(firstLine: []).verdict == .permanent)
    }

    @Test func verdictBoundaries() {
        #expect(ReplyCode(value: 399).verdict == .accepted)
        #expect(ReplyCode(value: 400).verdict == .temporary)
        #expect(ReplyCode(value: 499).verdict == .temporary)
        #expect(ReplyCode(value: 500).verdict == .permanent)
        #expect(ReplyCode(value: 354).verdict == .accepted)
    }

    @Test func greetingAndHelloMustBeExact() {
        #expect(ReplyCode(value: 220).isGoodGreeting)
        #expect(!ReplyCode(value: 221).isGoodGreeting)
        #expect(ReplyCode(value: 250).isGoodHello)
        #expect(!ReplyCode(value: 251).isGoodHello)
    }
}
