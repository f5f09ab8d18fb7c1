// The store's pure parts: qmail-send's retry schedule, SHA-256 against
// published vectors (checked with Python's hashlib), the field codec, how an
// attempt's reports become recipient outcomes, and the delivery state rule.

import QmailRemote
import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct StoreValueTests {
    @Test func retriesFollowNextretryWithChanskip20() {
        let schedule = RetrySchedule()
        var start: Int64 = 1_000_000
        var due: [Int64] = []
        for _ in 0..<5 {
            start = schedule.nextAttempt(queuedAt: 1_000_000, attemptStart: start)
            due.append(start - 1_000_000)
        }
        #expect(due == [400, 1600, 3600, 6400, 10000])
        // Late attempts count from when they start, as qmail-send's `recent`.
        #expect(schedule.nextAttempt(queuedAt: 0, attemptStart: 500) == (22 + 20) * (22 + 20))
        #expect(schedule.nextAttempt(queuedAt: 100, attemptStart: 50) == 100 + 400)
        #expect(RetrySchedule(base: 1).nextAttempt(queuedAt: 0, attemptStart: 0) == 1)
        #expect(RetrySchedule(base: 1).nextAttempt(queuedAt: 0, attemptStart: 1) == 4)
    }

    @Test func deferralsFailOnlyForAttemptsStartedAfterTheLifetime() {
        let schedule = RetrySchedule(queueLifetime: 604_800)
        #expect(!schedule.givesUp(queuedAt: 0, attemptStart: 604_800))
        #expect(schedule.givesUp(queuedAt: 0, attemptStart: 604_801))
    }

    @Test func squareRootsAreExact() {
        for x: Int64 in [0, 1, 2, 3, 4, 15, 16, 17, 399, 400, 401, 999_999_999_999, 1_000_000_000_000] {
            let root = RetrySchedule.squareRoot(x)
            #expect(root * root <= x && (root + 1) * (root + 1) > x)
        }
    }

    @Test func fieldsSurviveAnyBytesAndDamageGivesFewerFields() {
        let fields: [[UInt8]] = [[], [0, 0, 255], bytes("Location"), [UInt8](repeating: 7, count: 70000)]
        #expect(FieldCodec.decode(FieldCodec.encode(fields)) == fields)
        let encoded = FieldCodec.encode(fields)
        #expect(FieldCodec.decode(Array(encoded.dropLast())) == Array(fields.prefix(3)))
        let answer = StoredAnswer(status: 202, headers: [("A", "1"), ("B", "")], body: [])
        #expect(StoredAnswer.decodeHeaders(answer.encodedHeaders).map(\.name) == ["A", "B"])
    }

    func job(_ positions: [Int], queuedAt: Int64 = 0, startedAt: Int64 = 0) -> ClaimedJob {
        ClaimedJob(
            deliveryID: "d", host: bytes("x"), sender: [], queuedAt: queuedAt, attempt: 1, startedAt: startedAt,
            recipients: positions.map { ClaimedRecipient(position: $0, address: bytes("r\($0)@x")) },
            message: .inline([]), worker: "w", possibleDuplicate: false)
    }

    @Test func reportsBecomeRecipientOutcomesAsTheAnswerReadsThem() {
        let results = AttemptResults(
            job: job([0, 3, 5]),
            report: report(
                [(.recipientAccepted, ""), (.recipientRejected, "no\n"), (.recipientDeferred, "later\n")],
                (.messageAccepted, "ok\n")), schedule: RetrySchedule())
        #expect(results.recipients.map(\.state) == [.delivered, .failed, .deferred])
        #expect(results.recipients.map(\.position) == [0, 3, 5])
        #expect(results.outcome == .mixed && !results.jobDone && results.nextAttemptAt == 400)
        #expect(results.reports.map(\.letter) == ["r", "h", "s", "K"])

        // A recipient the conversation never reached takes the message report.
        let unreached = AttemptResults(
            job: job([0, 1]), report: report([(.recipientAccepted, "")], (.messageDeferred, "lost\n")),
            schedule: RetrySchedule())
        #expect(unreached.recipients.map(\.state) == [.deferred, .deferred])
        #expect(unreached.recipients[1].report == ReportEntry(letter: "Z", text: bytes("lost\n")))
        #expect(unreached.outcome == .deferred)

        let failed = AttemptResults(
            job: job([0]), report: report([], (.messageFailed, "bad\n")), schedule: RetrySchedule())
        #expect(failed.outcome == .failed && failed.jobDone && failed.nextAttemptAt == nil)
    }

    @Test func theDeliveryStateFollowsItsRecipients() {
        typealias State = DeliveryStatus.State
        #expect(State(recipients: [.pending, .pending], running: false) == .queued)
        #expect(State(recipients: [.delivered, .pending], running: true) == .delivering)
        #expect(State(recipients: [.delivered, .deferred], running: false) == .deferred)
        #expect(State(recipients: [.delivered, .delivered], running: false) == .delivered)
        #expect(State(recipients: [.failed], running: false) == .failed)
        #expect(State(recipients: [.failed, .delivered], running: false) == .mixed)
    }

    @Test func deliveryIDsAreRandomHexAndCheckedBeforeNamingFiles() {
        let id = DeliveryID.generate()
        #expect(id.count == 32 && DeliveryID.isValid(id) && id != DeliveryID.generate())
        #expect(!DeliveryID.isValid("") && !DeliveryID.isValid("../x") && !DeliveryID.isValid("a/b"))
        #expect(!DeliveryID.isValid(String(repeating: "a", count: 65)))
    }

    @Test func statementsMergeIntoOneWithRenumberedParameters() {
        #expect(SQLStatement.renumbered("VALUES ($1, $2, $10)", by: 5) == "VALUES ($6, $7, $15)")
        #expect(SQLStatement.renumbered("x = $3", by: 0) == "x = $3")
        #expect(SQLStatement.renumbered("x = $3", by: 7) == "x = $10")
        let merged = SQLStatement.merged(
            [
                SQLStatement("INSERT INTO a VALUES ($1, $2)", [.integer(1), .text("x")]),
                SQLStatement("UPDATE b SET c = $1", [.null]),
            ][...])
        #expect(merged.sql == "WITH q0 AS (INSERT INTO a VALUES ($1, $2)), q1 AS (UPDATE b SET c = $3) SELECT 1")
        #expect(merged.parameters == [.integer(1), .text("x"), .null])
    }
}
