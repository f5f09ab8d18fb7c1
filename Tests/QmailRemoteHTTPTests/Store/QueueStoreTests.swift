// The queue on both engines: enqueue, claims per delivery and host, attempts
// recorded, qmail's retry schedule and queue lifetime, leases taken over with
// and without the final-dot mark, status, metrics and removal.

import QmailRemote
import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct QueueStoreTests {
    let schedule = RetrySchedule(base: 20, queueLifetime: 604_800)
    let scope = StoreScope(token: bytes("token"))

    @Test(arguments: Engine.available)
    func aDeliveryIsClaimedPerHostAndRecordedPerRecipient(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let delivery = newDelivery(["a@x.test", "b@y.test", "c@x.test"], scope: scope)
        try store.enqueue(delivery, now: 1000)
        #expect(try store.status(id: delivery.id, scope: scope, now: 1000)?.state == .queued)

        let jobs = try store.claimDueJobs(worker: "w1", limit: 10, leaseSeconds: 60, now: 1000)
        #expect(jobs.count == 2)
        let x = try #require(jobs.first { $0.host == bytes("x.test") })
        #expect(x.recipients.map(\.address) == [bytes("a@x.test"), bytes("c@x.test")])
        #expect(x.recipients.map(\.position) == [0, 2])
        #expect(x.attempt == 1 && x.sender == bytes("app@example.org") && x.queuedAt == 1000)
        #expect(x.message == .inline(bytes("Subject: t\n\nhello\n")))
        #expect(try store.claimDueJobs(worker: "w2", limit: 10, leaseSeconds: 60, now: 1001).isEmpty)
        #expect(try store.status(id: delivery.id, scope: scope, now: 1001)?.state == .delivering)

        let accepted = report(
            [(.recipientAccepted, ""), (.recipientRejected, "1.2.3.4 does not like recipient.\n")],
            (.messageAccepted, "1.2.3.4 accepted message.\n"))
        #expect(try store.recordAttempt(x, report: accepted, schedule: schedule, now: 1002) == .recorded(.mixed))
        let y = try #require(jobs.first { $0.host == bytes("y.test") })
        #expect(
            try store.recordAttempt(
                y, report: report([], (.messageAccepted, "accepted\n")), schedule: schedule, now: 1003)
                == .recorded(.delivered))

        let status = try #require(try store.status(id: delivery.id, scope: scope, now: 1003))
        #expect(status.state == .mixed)
        #expect(status.finishedAt == 1003)
        #expect(status.recipients.map(\.outcome) == [.delivered, .delivered, .failed])
        #expect(
            status.recipients[2].report == ReportEntry(letter: "h", text: bytes("1.2.3.4 does not like recipient.\n")))
        #expect(status.recipients.allSatisfy { $0.nextAttemptAt == nil && $0.attempts == 1 })
        let first = try #require(status.attempts.first { $0.host == bytes("x.test") })
        #expect(
            first.reports == [
                ReportEntry(letter: "r", text: []),
                ReportEntry(letter: "h", text: bytes("1.2.3.4 does not like recipient.\n")),
                ReportEntry(letter: "K", text: bytes("1.2.3.4 accepted message.\n")),
            ])
        #expect(first.outcome == .mixed && first.startedAt == 1000 && first.finishedAt == 1002)
        #expect(try store.claimDueJobs(worker: "w1", limit: 10, leaseSeconds: 60, now: 99999).isEmpty)
    }

    @Test(arguments: Engine.available)
    func deferredRecipientsFollowQmailSendsScheduleUntilTheQueueLifetime(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let schedule = RetrySchedule(base: 20, queueLifetime: 5000)
        let delivery = newDelivery(["a@x.test", "b@x.test"])
        try store.enqueue(delivery, now: 1000)
        let deferral = report(
            [(.recipientAccepted, ""), (.recipientDeferred, "busy\n")], (.messageDeferred, "451 later\n"))

        var times: [Int64] = []
        var now: Int64 = 1000
        while true {
            let jobs = try store.claimDueJobs(worker: "w", limit: 5, leaseSeconds: 60, now: now)
            #expect(jobs.count == 1)
            guard let job = jobs.first else { return }
            #expect(try store.claimDueJobs(worker: "w", limit: 5, leaseSeconds: 60, now: now).isEmpty)
            times.append(now - 1000)
            _ = try store.recordAttempt(job, report: deferral, schedule: schedule, now: now + 1)
            let status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: now + 1))
            if status.state != .deferred { break }
            let next = try #require(status.recipients[0].nextAttemptAt)
            #expect(try store.claimDueJobs(worker: "w", limit: 5, leaseSeconds: 60, now: next - 1).isEmpty)
            #expect(try store.nextClaimableAt() == next)
            now = next
        }
        // (20n)² after queuing: 400, 1600, 3600; the attempt at 6400 is past the 5000 s lifetime.
        #expect(times == [0, 400, 1600, 3600, 6400])
        let status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: now))
        #expect(status.state == .failed)
        #expect(status.recipients.map(\.attempts) == [5, 5])
        #expect(
            status.recipients[0].report
                == ReportEntry(letter: "D", text: bytes("451 later\n" + RetrySchedule.tooLongText)))
        #expect(
            status.recipients[1].report == ReportEntry(letter: "D", text: bytes("busy\n" + RetrySchedule.tooLongText)))
        #expect(status.attempts.map(\.outcome) == [.deferred, .deferred, .deferred, .deferred, .failed])
    }

    @Test(arguments: Engine.available)
    func anExpiredLeaseWithoutTheDotMarkIsRetriedSilently(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let store = try fixture.open()
        // PostgreSQL: the job is taken over by another replica.
        let replica = engine == .postgresql ? try fixture.open() : store
        let delivery = newDelivery(["a@x.test"])
        try store.enqueue(delivery, now: 1000)
        let lost = try #require(try store.claimDueJobs(worker: "dead", limit: 1, leaseSeconds: 60, now: 1000).first)
        #expect(try replica.claimDueJobs(worker: "other", limit: 1, leaseSeconds: 60, now: 1059).isEmpty)
        let taken = try #require(try replica.claimDueJobs(worker: "other", limit: 1, leaseSeconds: 60, now: 1060).first)
        #expect(taken.attempt == 1 && !taken.possibleDuplicate)
        #expect(try store.markFinalDot(lost, leaseSeconds: 60, now: 1061) == false)
        #expect(
            try store.recordAttempt(lost, report: report([], (.messageAccepted, "")), schedule: schedule, now: 1062)
                == .leaseLost)
        #expect(try store.markFinalDot(taken, leaseSeconds: 60, now: 1062))
        _ = try store.recordAttempt(
            taken, report: report([], (.messageAccepted, "ok\n")), schedule: schedule, now: 1063)
        let status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: 1063))
        #expect(status.state == .delivered)
        #expect(status.attempts.count == 1)
        #expect(status.recipients[0].attempts == 1 && !status.recipients[0].possibleDuplicate)
    }

    @Test(arguments: Engine.available)
    func anExpiredLeaseAfterTheDotMarkIsRetriedAndFlagged(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let store = try fixture.open()
        let replica = engine == .postgresql ? try fixture.open() : store
        let delivery = newDelivery(["a@x.test"])
        try store.enqueue(delivery, now: 1000)
        let lost = try #require(try store.claimDueJobs(worker: "dead", limit: 1, leaseSeconds: 60, now: 1000).first)
        #expect(try store.renewLease(lost, leaseSeconds: 60, now: 1050))
        #expect(try store.markFinalDot(lost, leaseSeconds: 100, now: 1051))
        #expect(try replica.claimDueJobs(worker: "other", limit: 1, leaseSeconds: 60, now: 1150).isEmpty)
        let taken = try #require(try replica.claimDueJobs(worker: "other", limit: 1, leaseSeconds: 60, now: 1151).first)
        #expect(taken.attempt == 2 && taken.possibleDuplicate)
        #expect(try store.renewLease(lost, leaseSeconds: 60, now: 1152) == false)
        _ = try store.recordAttempt(
            taken, report: report([], (.messageAccepted, "ok\n")), schedule: schedule, now: 1160)
        let status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: 1160))
        #expect(status.state == .delivered)
        #expect(status.recipients[0].possibleDuplicate && status.recipients[0].attempts == 2)
        #expect(status.attempts.map(\.outcome) == [.interrupted, .delivered])
        #expect(try store.queueMetrics(now: 1160).attemptsByOutcome[.interrupted] == 1)
    }

    @Test(arguments: Engine.available)
    func aConnectionLostAfterTheDotIsRetriedAndFlagged(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let delivery = newDelivery(["a@x.test", "b@x.test"])
        try store.enqueue(delivery, now: 1000)
        let first = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1000).first)
        var died = report(
            [(.recipientAccepted, ""), (.recipientAccepted, "")],
            (.messageDeferred, "Connected to 127.0.0.1 but connection died. Possible duplicate! (#4.4.2)\n"))
        died.possibleDuplicate = true
        _ = try store.recordAttempt(first, report: died, schedule: schedule, now: 1001)
        var status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: 1001))
        #expect(status.state == .deferred && status.recipients.allSatisfy(\.possibleDuplicate))
        let second = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1400).first)
        #expect(second.possibleDuplicate)
        _ = try store.recordAttempt(
            second, report: report([], (.messageAccepted, "ok\n")), schedule: schedule, now: 1401)
        status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: 1401))
        // Still flagged once delivered: the recipient may have two copies.
        #expect(status.state == .delivered && status.recipients.allSatisfy(\.possibleDuplicate))
    }

    @Test(arguments: Engine.available)
    func aRestartedSQLiteStoreTakesItsOwnLeasesBackAtOnce(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        try fixture.open().enqueue(newDelivery(["a@x.test"]), now: 1000)
        _ = try fixture.open().claimDueJobs(worker: "before", limit: 1, leaseSeconds: 60, now: 1000)
        let again = try fixture.open().claimDueJobs(worker: "after", limit: 1, leaseSeconds: 60, now: 1001)
        #expect(again.count == (engine == .sqlite ? 1 : 0))
    }

    @Test(arguments: Engine.available)
    func statusIsScopedAndUnknownIdsAreNotFound(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let delivery = newDelivery(["a@x.test"], scope: scope)
        try store.enqueue(delivery, now: 1000)
        #expect(try store.status(id: delivery.id, scope: scope, now: 1000) != nil)
        #expect(try store.status(id: delivery.id, scope: StoreScope(token: bytes("other")), now: 1000) == nil)
        #expect(try store.status(id: delivery.id, scope: .anonymous, now: 1000) == nil)
        #expect(try store.status(id: "nope", scope: scope, now: 1000) == nil)
    }

    @Test(arguments: Engine.available)
    func enqueueRefusesBadIdsAndDuplicatesWithoutHalfRows(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        #expect(throws: StoreError.self) { try store.enqueue(newDelivery(["a@x.test"], id: "../etc"), now: 1) }
        #expect(throws: StoreError.self) { try store.enqueue(newDelivery([], id: "empty"), now: 1) }
        try store.enqueue(newDelivery(["a@x.test"], id: "same"), now: 1)
        #expect(throws: StoreError.self) {
            try store.enqueue(newDelivery(["b@y.test", "c@z.test"], id: "same"), now: 2)
        }
        let metrics = try store.queueMetrics(now: 2)
        #expect(metrics.queuedDeliveries == 1 && metrics.queuedRecipients == 1)
    }

    @Test(arguments: Engine.available)
    func metricsCountTheQueueAndAttempts(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        do {
            let store = try fixture.open()
            try store.enqueue(newDelivery(["a@x.test", "b@y.test"]), now: 1000)
            try store.enqueue(newDelivery(["c@x.test"]), now: 1500)
            var metrics = try store.queueMetrics(now: 2000)
            #expect(metrics.queuedDeliveries == 2 && metrics.queuedRecipients == 3 && metrics.oldestQueuedAge == 1000)
            for job in try store.claimDueJobs(worker: "w", limit: 10, leaseSeconds: 60, now: 2000) {
                let outcome: (ReportLetter, String) =
                    job.host == bytes("x.test") ? (.messageAccepted, "") : (.messageDeferred, "")
                _ = try store.recordAttempt(job, report: report([], outcome), schedule: schedule, now: 2001)
            }
            metrics = try store.queueMetrics(now: 2001)
            #expect(metrics.queuedDeliveries == 1 && metrics.queuedRecipients == 1 && metrics.oldestQueuedAge == 1001)
            #expect(metrics.attemptsByOutcome[.delivered] == 2 && metrics.attemptsByOutcome[.deferred] == 1)
            #expect(metrics.attemptsByOutcome[.failed] == 0)
        }
        // Counted across restarts (SQLite folds the old shards; PostgreSQL adds them up).
        let reopened = try fixture.open()
        #expect(try reopened.queueMetrics(now: 2001).attemptsByOutcome[.delivered] == 2)
    }

    @Test(arguments: Engine.available)
    func finishedDeliveriesAreRemovedAfterTheRetention(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let done = newDelivery(["a@x.test"])
        let waiting = newDelivery(["b@x.test"])
        try store.enqueue(done, now: 1000)
        let job = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1000).first)
        _ = try store.recordAttempt(job, report: report([], (.messageAccepted, "")), schedule: schedule, now: 1001)
        try store.enqueue(waiting, now: 1002)
        #expect(try store.removeFinishedDeliveries(finishedBefore: 1001) == 0)
        #expect(try store.removeFinishedDeliveries(finishedBefore: 1002) == 1)
        #expect(try store.status(id: done.id, scope: .anonymous, now: 1002) == nil)
        #expect(try store.status(id: waiting.id, scope: .anonymous, now: 1002) != nil)
    }

    @Test(arguments: Engine.available)
    func concurrentEnqueuesAllCommit(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let ids = Results<String>()
        concurrently(20) { _ in
            for _ in 0..<25 {
                let delivery = newDelivery(["a@x.test", "b@y.test"])
                if (try? store.enqueue(delivery, now: 1000)) != nil { ids.append(delivery.id) }
            }
        }
        #expect(ids.values.count == 500)
        #expect(try store.queueMetrics(now: 1000).queuedDeliveries == 500)
        for id in ids.values.prefix(20) { #expect(try store.status(id: id!, scope: .anonymous, now: 1000) != nil) }
    }

    @Test(arguments: Engine.available)
    func aBadEnqueueInABatchFailsOnlyItself(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        try store.enqueue(newDelivery(["a@x.test"], id: "taken"), now: 1)
        let failures = Results<String>()
        concurrently(20) { index in
            for round in 0..<10 {
                let id = index == 7 && round == 5 ? "taken" : DeliveryID.generate()
                do throws(StoreError) {
                    try store.enqueue(newDelivery(["b@y.test", "c@z.test"], id: id), now: 2)
                } catch {
                    failures.append(id)
                }
            }
        }
        #expect(failures.values == ["taken"])
        #expect(try store.queueMetrics(now: 2).queuedDeliveries == 200)
    }

    @Test(arguments: Engine.available)
    func concurrentClaimersNeverShareAJob(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let stores = engine == .postgresql ? [try fixture.open(), try fixture.open()] : [try fixture.open()]
        let count = 600
        concurrently(6) { part in
            for index in stride(from: part, to: count, by: 6) {
                try? stores[0].enqueue(newDelivery(["r\(index)@x.test"]), now: 1000)
            }
        }
        let claimed = Results<String>()
        concurrently(8) { index in
            let store = stores[index % stores.count]
            while let jobs = try? store.claimDueJobs(worker: "w\(index)", limit: 3, leaseSeconds: 60, now: 1000),
                !jobs.isEmpty
            {
                for job in jobs { claimed.append(job.deliveryID) }
            }
        }
        let ids = claimed.values.compactMap { $0 }
        #expect(ids.count == count)
        #expect(Set(ids).count == count)
    }

    @Test func postgresqlClaimsSkipRowsAnotherReplicaHoldsLocked() throws {
        guard Engine.available.contains(.postgresql) else { return }
        let fixture = try StoreFixture(.postgresql)
        let store = try fixture.open()
        let held = newDelivery(["a@x.test"])
        let free = newDelivery(["b@x.test"])
        try store.enqueue(held, now: 1000)
        try store.enqueue(free, now: 1000)
        // Another replica in the middle of claiming `held`.
        let other = try PostgresConnection(url: fixture.urlText)
        try other.beginWrite()
        _ = try other.execute("SELECT host FROM jobs WHERE delivery_id = $1 FOR UPDATE", .text(held.id))
        let jobs = try store.claimDueJobs(worker: "w", limit: 10, leaseSeconds: 60, now: 1000)
        #expect(jobs.map(\.deliveryID) == [free.id])
        other.rollback()
        #expect(
            try store.claimDueJobs(worker: "w", limit: 10, leaseSeconds: 60, now: 1000).map(\.deliveryID) == [held.id])
    }
}
