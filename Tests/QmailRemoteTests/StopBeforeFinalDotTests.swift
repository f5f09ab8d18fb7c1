// The two things the gateway needs from a delivery: a way to stop it before
// its final dot (DeliveryRequest.proceed) and the "may have been delivered"
// flag on the report (DeliveryReport.possibleDuplicate).

import Synchronization
import Testing

@testable import QmailRemote

@Suite struct StopBeforeFinalDotTests {
    let ip = IPAddress(192, 0, 2, 1)
    let script = ["220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n"]

    func session(_ proceed: (@Sendable (DeliveryStep) -> Bool)?) -> SMTPSession {
        SMTPSession(
            ip: ip, helohost: Array("me.test".utf8), sender: Array("a@b".utf8),
            recipients: [(Array("u@x".utf8), nil)], proceed: proceed)
    }

    @Test func refusingTheFinalDotSendsNoDotAndDefers() {
        let connection = ScriptedConnection(script)
        let report = session({ $0 != .finalDot }).run(over: connection, message: BytesMessage("x\n"))
        #expect(report.messageReport == LocalFailure.stoppedBeforeFinalDot.report)
        #expect(report.messageReport.letter == .messageDeferred)
        #expect(!report.possibleDuplicate)
        #expect(connection.writtenText.hasSuffix("DATA\r\n"))
        #expect(connection.closed)
    }

    @Test func refusingMoreDataStopsInTheMiddle() {
        let asked = Atomic<Int>(0)
        let connection = ScriptedConnection(script)
        let message = BytesMessage(String(repeating: "a line of text\n", count: 20_000), pieceSize: 65536)
        let report = session({ step in
            asked.add(1, ordering: .relaxed)
            return step == .messageData && asked.load(ordering: .relaxed) < 2
        }).run(over: connection, message: message)
        #expect(report.messageReport == LocalFailure.stoppedBeforeFinalDot.report)
        #expect(!connection.writtenText.hasSuffix(".\r\n"))
        #expect(connection.written.count < 300_000)
    }

    @Test func allowedDeliveryAsksBeforeTheDot() {
        let steps = Mutex<[DeliveryStep]>([])
        let report = session({ step in
            steps.withLock { $0.append(step) }
            return true
        }).run(over: ScriptedConnection(script), message: BytesMessage("x\n"))
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(steps.withLock { $0 } == [.finalDot])
        #expect(!report.possibleDuplicate)
    }

    @Test func silenceAfterTheDotIsFlagged() {
        let report = session(nil).run(over: ScriptedConnection(Array(script.dropLast())), message: BytesMessage("x\n"))
        #expect(report.possibleDuplicate)
        #expect(report.messageReport == LocalFailure.connectionDied(ip, possibleDuplicate: true).report)
    }
}
