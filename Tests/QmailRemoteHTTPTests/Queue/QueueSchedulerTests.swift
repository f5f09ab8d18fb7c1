// The queue's scheduler and attempts over a real SQLite store and a real
// delivery pool, with the SMTP delivery faked: jobs are claimed, delivered
// with the final dot marked in the store first, recorded, retried on the
// schedule; a drain gives back what has not started and stops dots.

import Logging
import QmailRemote
import QmailSupport
import Testing

@testable import QmailRemoteHTTP

#if canImport(Glibc)
import Glibc
#endif

/// A fake SMTP delivery: scripted reports, what it saw, and a gate to hold it.
final class FakeDeliveries: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock` only.
    private let lock = Lock()
    private let changed = Condition()
    private var reports: [DeliveryReport]
    private(set) var seen: [(recipients: [[UInt8]], message: [UInt8], dotAllowed: Bool?)] = []
    private var holding = false
    private(set) var waiting = 0

    init(_ reports: [DeliveryReport]) { self.reports = reports }

    /// Deliveries wait in `deliver` until `release`.
    func hold() { lock.withLock { holding = true } }
    func release() {
        lock.withLock {
            holding = false
            changed.broadcast()
        }
    }

    var count: Int { lock.withLock { seen.count } }
    var held: Int { lock.withLock { waiting } }

    func deliver(_ request: DeliveryRequest, _ message: any MessageSource) -> DeliveryReport {
        lock.withLock {
            waiting += 1
            while holding { lock.wait(on: changed) }
            waiting -= 1
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while let count = try? chunk.withUnsafeMutableBytes({ try message.read(into: $0) }), count > 0 {
            bytes += chunk[0..<count]
        }
        let allowed = request.proceed?(.finalDot)
        return lock.withLock {
            seen.append((request.recipients, bytes, allowed))
            if allowed == false { return DeliveryReport(failure: LocalFailure.stoppedBeforeFinalDot.report) }
            return reports.count > 1 ? reports.removeFirst() : reports[0]
        }
    }
}

@Suite(.serialized) struct QueueSchedulerTests {
    let delivered = report([], (.messageAccepted, "127.0.0.1 accepted message.\n"))

    func scheduler(
        _ store: DeliveryStore, _ fake: FakeDeliveries, lifecycle: Lifecycle = Lifecycle(), threads: Int = 2
    ) -> QueueScheduler {
        let context = QueueContext(
            store: store, callers: StoreCallers(limit: 8), lifecycle: lifecycle,
            telemetry: Telemetry(metrics: Metrics(queue: QueueGauges()), logger: Logger(label: "test")),
            lifetime: QueueLifetime(controlDirectory: makeTemporaryDirectory(), retryBase: 1), leaseSeconds: 60,
            deliver: { fake.deliver($0, $1) })
        return QueueScheduler(
            context: context, pool: WorkerPool(threads: threads, capacity: nil), claimLimit: 4, retentionSeconds: 3600)
    }

    func waitFor(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Clock.seconds() + seconds
        while Clock.seconds() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    @Test func aQueuedDeliveryIsDeliveredPerHostWithItsDotMarkedFirst() throws {
        let store = try StoreFixture(.sqlite).open()
        let fake = FakeDeliveries([delivered])
        let queue = scheduler(store, fake)
        let delivery = newDelivery(["a@x.test", "b@y.test", "c@x.test"])
        try store.enqueue(delivery, now: Clock.epochSeconds())
        #expect(queue.start())
        queue.wake()
        #expect(try waitFor { try store.status(id: delivery.id, scope: .anonymous, now: 0)?.state == .delivered })
        #expect(
            fake.seen.map(\.recipients).sorted { $0.count > $1.count } == [
                [bytes("a@x.test"), bytes("c@x.test")], [bytes("b@y.test")],
            ])
        #expect(fake.seen.allSatisfy { $0.dotAllowed == true && $0.message == bytes("Subject: t\n\nhello\n") })
        #expect(waitFor { queue.attemptsInFlight == 0 })
    }

    @Test func aLargeBodyIsReadBackFromItsFile() throws {
        let store = try StoreFixture(.sqlite).open()
        let fake = FakeDeliveries([delivered])
        let queue = scheduler(store, fake)
        let large = Array(String(repeating: "0123456789abcdef\n", count: 20_000).utf8)
        let delivery = newDelivery(["a@x.test"], message: .bytes(large))
        try store.enqueue(delivery, now: Clock.epochSeconds())
        #expect(queue.start())
        #expect(try waitFor { try store.status(id: delivery.id, scope: .anonymous, now: 0)?.state == .delivered })
        #expect(fake.seen.first?.message == large)
    }

    @Test func aDeferralIsRetriedOnTheSchedule() throws {
        let store = try StoreFixture(.sqlite).open()
        let fake = FakeDeliveries([report([], (.messageDeferred, "451 later\n")), delivered])
        let queue = scheduler(store, fake)
        let delivery = newDelivery(["a@x.test"])
        try store.enqueue(delivery, now: Clock.epochSeconds())
        #expect(queue.start())
        #expect(try waitFor { try store.status(id: delivery.id, scope: .anonymous, now: 0)?.state == .delivered })
        let status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: 0))
        #expect(status.attempts.map(\.outcome) == [.deferred, .delivered])
        // Base 1: the retry is due (0 + 1)² = 1 s after queuing.
        #expect(status.attempts[1].startedAt >= status.queuedAt + 1)
        #expect(status.recipients[0].attempts == 2)
    }

    @Test func aDrainGivesBackWhatHasNotStartedAndStopsTheDots() throws {
        let store = try StoreFixture(.sqlite).open()
        let fake = FakeDeliveries([delivered])
        let lifecycle = Lifecycle()
        let queue = scheduler(store, fake, lifecycle: lifecycle, threads: 1)
        fake.hold()
        let deliveries = (0..<3).map { newDelivery(["r\($0)@x.test"]) }
        for delivery in deliveries { try store.enqueue(delivery, now: Clock.epochSeconds()) }
        #expect(queue.start())
        #expect(waitFor { fake.held == 1 && queue.attemptsInFlight == 3 })
        lifecycle.beginDraining()
        queue.drain()
        #expect(queue.attemptsInFlight == 1)
        lifecycle.stopFinalDots()
        fake.release()
        #expect(waitFor { queue.attemptsInFlight == 0 })
        #expect(fake.seen.count == 1 && fake.seen[0].dotAllowed == false)
        for delivery in deliveries {
            let status = try #require(try store.status(id: delivery.id, scope: .anonymous, now: 0))
            #expect(status.state == .queued && status.attempts.isEmpty && status.recipients[0].attempts == 0)
        }
        #expect(try store.nextClaimableAt()! <= Clock.epochSeconds())
        // Nothing more is claimed while draining.
        usleep(300_000)
        #expect(fake.count == 1)
    }
}
