// Reports as bytes: qmail's letter, text and NUL, the catalogue's texts that
// are ours, and the invariants a DeliveryReport keeps.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct ReportTests {
    @Test func qmailBytes() {
        let report = DeliveryReport(
            recipientReports: [Report(.recipientAccepted, [])],
            messageReport: Report(.messageAccepted, "1.2.3.4 accepted message.\n"))
        #expect(report.qmailBytes == Array("r\0K1.2.3.4 accepted message.\n\0".utf8))
    }

    @Test func noSuchHostShowsUnprintableBytesAsQuestionMarks() {
        let text = LocalFailure.noSuchHost([97, 32, 0x7f, 0xe9, 33, 126]).report.text
        #expect(text == Array("Sorry, I couldn't find any host named a???!~. (#5.1.2)\n".utf8))
    }

    @Test func catalogueEntriesOfOurs() {
        #expect(
            LocalFailure.givingUp(IPAddress(1, 2, 3, 4)).report == Report(.messageFailed, "Giving up on 1.2.3.4.\n"))
        #expect(
            LocalFailure.stoppedBeforeFinalDot.report
                == Report(
                    .messageDeferred,
                    "Delivery was stopped before the end of the message was sent; it was not delivered. (#4.3.0)\n"))
        #expect(
            LocalFailure.unsendableSender(.tooLong).report
                == Report(.messageFailed, "Sender address is too long for an SMTP command line. (#5.1.7)\n"))
        #expect(
            LocalFailure.unsendableRecipient(.tooLong).report
                == Report(.recipientRejected, "Recipient address is too long for an SMTP command line. (#5.1.3)\n"))
        #expect(
            LocalFailure.certificateNotVerified(IPAddress(1, 2, 3, 4), name: Array("a\nb".utf8), reason: "bad\u{1}")
                .report.text
                == Array("Connected to 1.2.3.4 but its certificate for a?b was not verified: bad?. (#4.7.5)\n".utf8))
    }

    @Test func replyVerdictsGiveTheLetters() {
        #expect(
            [ReplyVerdict.accepted, .temporary, .permanent].map(\.messageLetter) == [
                .messageAccepted, .messageDeferred, .messageFailed,
            ])
        #expect(
            [ReplyVerdict.accepted, .temporary, .permanent].map(\.recipientLetter) == [
                .recipientAccepted, .recipientDeferred, .recipientRejected,
            ])
    }

    @Test func remoteTextShowsNULAsQuestionMark() {
        let reply = Reply(code: ReplyCode(value: 550), text: Array("550 a\u{0}b\n".utf8))
        #expect(
            RemoteReport.recipient(.permanent, ip: IPAddress(1, 2, 3, 4), reply: reply).text
                == Array("1.2.3.4 does not like recipient.\nRemote host said: 550 a?b\n".utf8))
        #expect(
            RemoteReport.recipient(.accepted, ip: IPAddress(1, 2, 3, 4), reply: reply) == Report(.recipientAccepted, [])
        )
    }
}
