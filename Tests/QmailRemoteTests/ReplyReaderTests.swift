// ReplyReader: lines to replies, continuation by the fourth byte, the kept
// text (CR dropped, 5000 bytes), and the bound on hostile replies.

import Testing
@testable import QmailRemote

@Suite struct ReplyReaderTests {
    @Test func readsRepliesSplitAcrossReads() throws {
        let connection = ScriptedConnection(["2", "20 hel", "lo\r\n250-a\r", "\n250 b\r\n"])
        var reader = ReplyReader()
        let first = try reader.read(from: connection)
        #expect(first.code.value == 220)
        #expect(first.text == Array("220 hello\n".utf8))
        let second = try reader.read(from: connection)
        #expect(second.code.value == 250)
        #expect(second.text == Array("250-a\n250 b\n".utf8))
    }

    @Test func onlyTheFirstLineGivesTheCode() throws {
        var reader = ReplyReader()
        let reply = try reader.read(from: ScriptedConnection(["250-ok\n550 no\n"]))
        #expect(reply.code.value == 250)
    }

    @Test func threeByteLineEndsTheReply() throws {
        var reader = ReplyReader()
        let connection = ScriptedConnection(["250\n354\n"])
        #expect(try reader.read(from: connection).text == Array("250\n".utf8))
        #expect(try reader.read(from: connection).code.value == 354)
    }

    @Test func textIsCutAt5000Bytes() throws {
        var reader = ReplyReader()
        let reply = try reader.read(from: ScriptedConnection(["550 " + String(repeating: "x", count: 9000) + "\r\n"]))
        #expect(reply.text.count == Reply.textLimit)
    }

    @Test func endOfStreamMidReplyIsConnectionDied() {
        var reader = ReplyReader()
        #expect(throws: ReplyError.connectionDied) { try reader.read(from: ScriptedConnection(["250-more\r\n250"])) }
    }

    @Test func endlessReplyIsTooLong() {
        var reader = ReplyReader()
        let flood = Array(repeating: "250-" + String(repeating: "z", count: 100) + "\r\n", count: 1000)
        #expect(throws: ReplyError.tooLong) { try reader.read(from: ScriptedConnection(flood)) }
    }
}
