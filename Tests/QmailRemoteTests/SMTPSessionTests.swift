// SMTPSession against an in-memory connection: the fast companion of the
// end-to-end transcripts (which run the real binary against real sockets).

import Testing
@testable import QmailRemote

@Suite struct SMTPSessionTests {
    let ip = IPAddress(192, 0, 2, 1)

    func session(_ recipients: [String] = ["u@x"]) -> SMTPSession {
        SMTPSession(
            ip: ip, helohost: Array("me.test".utf8), sender: Array("a@b".utf8),
            recipients: recipients.map { (Array($0.utf8), MailboxText.problem(in: Array($0.utf8))) })
    }

    @Test func wholeConversation() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n",
        ])
        let report = session().run(over: connection, message: BytesMessage("Subject: s\n\n.body\n"))
        #expect(report.qmailBytes == Array("r\0K192.0.2.1 accepted message.\nRemote host said: 250 yes\n\0".utf8))
        #expect(
            connection.writtenText
                == "HELO me.test\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@x>\r\nDATA\r\nSubject: s\r\n\r\n..body\r\n.\r\nQUIT\r\n"
        )
        #expect(connection.closed)
    }

    @Test func writeFailureBeforeTheDotIsNotAPossibleDuplicate() {
        let connection = ScriptedConnection(["220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"])
        connection.failWritesAfter = 60
        let report = session().run(over: connection, message: BytesMessage(String(repeating: "line\n", count: 100)))
        #expect(report.messageReport == LocalFailure.connectionDied(ip, possibleDuplicate: false).report)
    }

    @Test func silenceAfterTheDotIsAPossibleDuplicate() {
        let connection = ScriptedConnection(["220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"])
        let report = session().run(over: connection, message: BytesMessage("x\n"))
        #expect(report.messageReport == LocalFailure.connectionDied(ip, possibleDuplicate: true).report)
        #expect(report.recipientReports.count == 1)
    }

    @Test func unsendableRecipientKeepsItsPlace() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n",
        ])
        let report = session(["bad\r@x", "u@x"]).run(over: connection, message: BytesMessage("x\n"))
        #expect(report.recipientReports.map(\.letter) == [.recipientRejected, .recipientAccepted])
        #expect(!connection.writtenText.contains("bad"))
    }
}
