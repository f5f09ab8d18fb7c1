// SMTPSession running conversations over an in-memory connection: the bytes
// on the wire and how they are grouped into writes, the message streamed,
// `proceed`, TLS taking over the connection, and a kept connection carrying
// a second message. The fast companion of the end-to-end transcripts.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct SMTPSessionTests {
    let good = ["220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n"]

    func run(
        _ connection: ScriptedConnection, _ c: SMTPConversation, message: some MessageSource = BytesMessage("x\n"),
        proceed: ((DeliveryStep) -> Bool)? = nil,
        secure: @escaping (any Connection) -> Result<SecuredConnection, TLSFailure> = { _ in .failure(.failed("no TLS"))
        }
    ) -> (SMTPConversation.Ending, SMTPSession) {
        let session = SMTPSession(connection: connection, ip: testIP)
        var conversation = c
        let ending = session.converse(&conversation, message: message, proceed: proceed, secure: secure)
        return (ending, session)
    }

    func report(_ ending: SMTPConversation.Ending) -> DeliveryReport? {
        if case .report(let report, _) = ending { return report }
        return nil
    }

    @Test func classicConversationOnTheWire() {
        let connection = ScriptedConnection(good)
        let (ending, _) = run(connection, conversation(esmtp: false), message: BytesMessage("Subject: s\n\n.body\n"))
        #expect(
            report(ending)?.qmailBytes == Array("r\0K192.0.2.1 accepted message.\nRemote host said: 250 yes\n\0".utf8))
        #expect(
            connection.writtenText
                == "HELO me.test\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@x>\r\nDATA\r\nSubject: s\r\n\r\n..body\r\n.\r\nQUIT\r\n"
        )
        #expect(connection.closed)
    }

    @Test func pipelinedCommandsGoOutInOneWrite() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250-x\r\n250 PIPELINING\r\n", "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "250 yes\r\n",
        ])
        let (ending, _) = run(connection, conversation(["u@x", "bad\n@x", "v@x"]))
        #expect(
            report(ending)?.recipientReports.map(\.letter) == [
                .recipientAccepted, .recipientRejected, .recipientAccepted,
            ])
        #expect(connection.writes.count == 4)  // EHLO, MAIL+RCPT+RCPT+DATA, message+dot, QUIT
        #expect(connection.writes[1] == Array("MAIL FROM:<a@b>\r\nRCPT TO:<u@x>\r\nRCPT TO:<v@x>\r\nDATA\r\n".utf8))
    }

    @Test func lockStepWithoutPipelining() {
        let connection = ScriptedConnection(good)
        let (ending, _) = run(connection, conversation())
        #expect(report(ending)?.messageReport.letter == .messageAccepted)
        #expect(connection.writes.count == 6)
    }

    @Test func dataAcceptedWithoutRecipientsIsEndedAtOnce() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250-x\r\n250 PIPELINING\r\n", "250 ok\r\n550 no\r\n354 go\r\n", "554 empty\r\n",
        ])
        let (ending, _) = run(connection, conversation(), message: BytesMessage("secret\n"))
        #expect(report(ending)?.messageReport == LocalFailure.givingUp(testIP).report)
        #expect(connection.writtenText.hasSuffix("DATA\r\n.\r\nQUIT\r\n"))
        #expect(!connection.writtenText.contains("secret"))
    }

    @Test func writeFailureBeforeTheDotIsNotAPossibleDuplicate() {
        let connection = ScriptedConnection(Array(good.dropLast()))
        connection.failWritesAfter = 60
        let (ending, _) = run(
            connection, conversation(esmtp: false), message: BytesMessage(String(repeating: "line\n", count: 100)))
        #expect(report(ending)?.messageReport == LocalFailure.connectionDied(testIP, possibleDuplicate: false).report)
        #expect(report(ending)?.possibleDuplicate == false)
        #expect(!connection.writtenText.hasSuffix("QUIT\r\n"))
    }

    @Test func silenceAfterTheDotIsAPossibleDuplicate() {
        let connection = ScriptedConnection(Array(good.dropLast()))
        let (ending, _) = run(connection, conversation(esmtp: false))
        #expect(report(ending)?.messageReport == LocalFailure.connectionDied(testIP, possibleDuplicate: true).report)
        #expect(report(ending)?.possibleDuplicate == true)
        #expect(report(ending)?.recipientReports.count == 1)
    }

    @Test func unreadableMessageAndPartialLastLineCloseWithoutTheDot() {
        let unreadable = ScriptedConnection(good)
        let (first, _) = run(unreadable, conversation(esmtp: false), message: UnreadableMessage())
        #expect(report(first)?.messageReport == LocalFailure.unreadableMessage.report)
        #expect(unreadable.writtenText.hasSuffix("DATA\r\n") && unreadable.closed)
        let partial = ScriptedConnection(good)
        let (second, _) = run(partial, conversation(esmtp: false), message: BytesMessage("no newline"))
        #expect(report(second)?.messageReport == LocalFailure.partialFinalLine.report)
        #expect(!partial.writtenText.contains("no newline"))
    }

    @Test func aBigMessageIsStreamedInPiecesWithTheDotInTheLastWrite() {
        let connection = ScriptedConnection(good)
        let line = String(repeating: "y", count: 99) + "\n"
        let message = BytesMessage(String(repeating: line, count: 2000), pieceSize: 4096)
        let (ending, _) = run(connection, conversation(esmtp: false), message: message)
        #expect(report(ending)?.messageReport.letter == .messageAccepted)
        let data = connection.writes[4..<(connection.writes.count - 1)]
        #expect(data.count == 4)
        #expect(data.dropLast().allSatisfy { $0.count >= SMTPSession.chunkSize })
        #expect(Array(data.last!.suffix(6)) == Array("y\r\n.\r\n".utf8))
        let total: Int = data.map(\.count).reduce(0, +)
        #expect(total == 2000 * 101 + 3)
    }

    @Test func proceedIsAskedBeforeDataAndOnceBeforeTheDot() {
        final class Asked: @unchecked Sendable {
            // Only the delivering thread touches it.
            var steps: [DeliveryStep] = []
        }
        let asked = Asked()
        let connection = ScriptedConnection(good)
        let message = BytesMessage(
            String(repeating: String(repeating: "z", count: 999) + "\n", count: 100), pieceSize: 65536)
        let (ending, _) = run(
            connection, conversation(esmtp: false), message: message,
            proceed: {
                asked.steps.append($0)
                return true
            })
        #expect(report(ending)?.messageReport.letter == .messageAccepted)
        #expect(asked.steps.map { "\($0)" } == ["messageData", "messageData", "finalDot"])
    }

    @Test func proceedSayingNoStopsBeforeTheDot() {
        for stopAt in [DeliveryStep.messageData, .finalDot] {
            let connection = ScriptedConnection(good)
            let (ending, _) = run(
                connection, conversation(esmtp: false), message: BytesMessage("body\n"),
                proceed: {
                    "\($0)" != "\(stopAt)"
                })
            #expect(report(ending)?.messageReport == LocalFailure.stoppedBeforeFinalDot.report)
            #expect(report(ending)?.recipientReports.map(\.letter) == [.recipientAccepted])
            #expect(!connection.writtenText.contains(".\r\n"))
            // Closed, not QUIT: in the data phase a QUIT would be message text.
            #expect(connection.writtenText.hasSuffix("DATA\r\n"))
            #expect(connection.closed)
        }
    }

    @Test func tlsTakesOverAndDropsWhatCameAfterTheGoAhead() {
        let plain = ScriptedConnection(["220 hi\r\n", "250-x\r\n250 STARTTLS\r\n", "220 go\r\n250 injected\r\n"])
        let secured = ScriptedConnection(["250 mx.test\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n"])
        let (ending, _) = run(
            plain, conversation(opening: .fresh(TLSPlan(level: .encrypt))),
            secure: { _ in .success(SecuredConnection(connection: secured, summary: FakeConnector.verified)) })
        #expect(report(ending)?.messageReport.letter == .messageAccepted)
        #expect(report(ending)?.tls == FakeConnector.verified)
        #expect(plain.writtenText == "EHLO me.test\r\nSTARTTLS\r\n")
        #expect(secured.writtenText.hasPrefix("EHLO me.test\r\nMAIL FROM:<a@b>\r\n"))
        #expect(secured.writtenText.hasSuffix(".\r\nQUIT\r\n") && secured.closed)
    }

    @Test func aKeptConnectionCarriesTheNextMessageAfterRSET() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250-x\r\n250-PIPELINING\r\n250 8BITMIME\r\n", "250 ok\r\n250 ok\r\n354 go\r\n",
            "250 one\r\n",
        ])
        let (first, session) = run(connection, conversation(mayKeep: true))
        guard case .report(let report, .keep) = first else { Issue.record("not kept: \(first)"); return }
        #expect(report.reused == false && !connection.closed && session.isIdle && session.messagesCarried == 1)
        #expect(session.extensions.has("PIPELINING"))
        connection.add("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        connection.add("250 two\r\n")
        let before = connection.written.count
        var second = conversation(["v@x"], opening: .reused(session.extensions, tls: session.tls))
        let ending = session.converse(&second, message: BytesMessage("again\n"), secure: { _ in .failure(.failed("")) })
        #expect(self.report(ending)?.reused == true)
        #expect(
            self.report(ending)?.messageReport.text.starts(
                with: Array("192.0.2.1 accepted message.\nRemote host said: 250 two".utf8)) == true)
        #expect(
            String(decoding: connection.written[before...], as: UTF8.self)
                == "RSET\r\nMAIL FROM:<a@b> BODY=8BITMIME\r\nRCPT TO:<v@x>\r\nDATA\r\nagain\r\n.\r\nQUIT\r\n")
    }

    @Test func bytesLeftAfterTheLastReplyMeanNotIdle() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250 x\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 one\r\n421 bye\r\n",
        ])
        let (_, session) = run(connection, conversation(mayKeep: true))
        #expect(!session.isIdle)
    }
}
