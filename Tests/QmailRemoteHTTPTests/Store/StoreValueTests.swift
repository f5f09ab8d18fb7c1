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

    @Test func sha256MatchesPublishedVectors() {
        func hex(_ bytes: [UInt8]) -> String {
            bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined()
        }
        #expect(hex(SHA256.digest([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.digest(bytes("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            hex(SHA256.digest(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            hex(SHA256.digest(bytes(String(repeating: "a", count: 55))))
                == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(
            hex(SHA256.digest(bytes(String(repeating: "a", count: 64))))
                == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
        // A million 'a' in uneven pieces: the streaming path.
        var hash = SHA256()
        var left = 1_000_000
        var piece = 1
        while left > 0 {
            let count = min(piece, left)
            hash.update([UInt8](repeating: UInt8(ascii: "a"), count: count))
            left -= count
            piece = piece * 3 % 997 + 1
        }
        #expect(hex(hash.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
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
