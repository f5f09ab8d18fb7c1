// Leases held by a gateway with several jobs, on both engines: renewed
// together (a lost one says so), and a job given back untried is due again at
// once, with its attempt forgotten; one whose dot was marked is not given back.

import QmailRemote
import Testing

@testable import QmailRemoteHTTP

@Suite struct LeaseStoreTests {
    let schedule = RetrySchedule()

    @Test(arguments: Engine.available)
    func leasesAreRenewedTogetherAndALostOneSaysSo(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let store = try fixture.open()
        let replica = engine == .postgresql ? try fixture.open() : store
        try store.enqueue(newDelivery(["a@x.test"]), now: 1000)
        try store.enqueue(newDelivery(["b@x.test"]), now: 1000)
        let jobs = try store.claimDueJobs(worker: "w", limit: 2, leaseSeconds: 60, now: 1000)
        #expect(jobs.count == 2)
        #expect(try store.renewLeases(jobs, leaseSeconds: 60, now: 1050) == [true, true])
        // Not renewed in time: another worker takes the first over.
        #expect(try replica.claimDueJobs(worker: "other", limit: 2, leaseSeconds: 60, now: 1109).isEmpty)
        #expect(try store.renewLeases([jobs[1]], leaseSeconds: 60, now: 1100) == [true])
        let taken = try replica.claimDueJobs(worker: "other", limit: 2, leaseSeconds: 60, now: 1111)
        #expect(taken.map(\.deliveryID) == [jobs[0].deliveryID])
        #expect(try store.renewLeases(jobs, leaseSeconds: 60, now: 1112) == [false, true])
        #expect(try store.renewLeases([], leaseSeconds: 60, now: 1112) == [])
    }

    @Test(arguments: Engine.available)
    func aWorkerThatClaimsItsOwnExpiredJobAgainHoldsOnlyTheNewClaim(engine: Engine) throws {
        // Its first delivery may still be running (a lease renewed too late):
        // only one of the two may write the final dot.
        let store = try StoreFixture(engine).open()
        try store.enqueue(newDelivery(["a@x.test"]), now: 1000)
        let first = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1000).first)
        let second = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1061).first)
        #expect(second.deliveryID == first.deliveryID && second.attempt == first.attempt)
        #expect(try store.markFinalDot(first, leaseSeconds: 60, now: 1062) == false)
        #expect(try store.renewLeases([first], leaseSeconds: 60, now: 1062) == [false])
        #expect(try store.markFinalDot(second, leaseSeconds: 60, now: 1062))
    }

    @Test(arguments: Engine.available)
    func aJobGivenBackIsDueAtOnceAsIfNeverTried(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let delivery = newDelivery(["a@x.test"])
        try store.enqueue(delivery, now: 1000)
        let job = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1000).first)
        #expect(try store.release(job))
        #expect(try store.release(job) == false)
        #expect(try store.nextClaimableAt() == 1000)
        let again = try #require(try store.claimDueJobs(worker: "w2", limit: 1, leaseSeconds: 60, now: 1001).first)
        #expect(again.attempt == 1 && !again.possibleDuplicate)
        let status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: 1001))
        #expect(status.attempts.count == 1 && status.attempts[0].startedAt == 1001)
        #expect(status.recipients[0].attempts == 0)
        // Given back by its old holder: refused, the new holder keeps it.
        #expect(try store.release(job) == false)
        #expect(
            try store.recordAttempt(
                again, report: report([], (.messageAccepted, "ok\n")), schedule: schedule, now: 1002)
                == .recorded(.delivered))
    }

    @Test(arguments: Engine.available)
    func aJobWhoseDotWasMarkedIsNotGivenBack(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let delivery = newDelivery(["a@x.test"])
        try store.enqueue(delivery, now: 1000)
        let job = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1000).first)
        #expect(try store.markFinalDot(job, leaseSeconds: 60, now: 1001))
        #expect(try store.release(job) == false)
        #expect(try store.claimDueJobs(worker: "w2", limit: 1, leaseSeconds: 60, now: 1060).isEmpty)
        let again = try #require(try store.claimDueJobs(worker: "w2", limit: 1, leaseSeconds: 60, now: 1061).first)
        #expect(again.possibleDuplicate && again.attempt == 2)
    }
}
