// The queue's one thread: claims due jobs (as many as `claimLimit` held at
// once, so that claimed bodies stay few; again once half of them are done,
// so that claims come in batches) and submits each to the delivery
// pool, where it waits its turn with the requests' deliveries (same threads,
// same limits); renews the leases of every job it holds; wakes when a
// delivery is queued here or a job finishes, and otherwise looks at the
// store once a second (for work other replicas queued, for the gauges of
// /metrics); now and then drops expired idempotency keys and old deliveries.
// On drain it claims nothing more and gives back the jobs not started.

import QmailRemote
import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

public final class QueueScheduler: @unchecked Sendable {
    // @unchecked: `held`, `queuedHere`, `changed` and `draining` are read and
    // written under `lock` only.
    let context: QueueContext
    private let pool: WorkerPool
    /// This gateway's name in leases: host, process and a random part.
    let worker: String
    let claimLimit: Int
    /// Finished deliveries (and their statuses) are kept this long.
    let retentionSeconds: Int64
    private let lock = Lock()
    private let wakeUp = Condition()
    private var held: [ObjectIdentifier: QueuedAttempt] = [:]
    /// A delivery was queued here since the loop last looked.
    private var queuedHere = true
    /// Anything the loop should look at again (a delivery queued, a job finished).
    private var changed = true
    private var draining = false

    static let lookSeconds = 1.0
    static let housekeepingSeconds = 60.0

    init(context: QueueContext, pool: WorkerPool, claimLimit: Int, retentionSeconds: Int64) {
        self.context = context
        self.pool = pool
        self.claimLimit = max(1, claimLimit)
        self.retentionSeconds = retentionSeconds
        worker = Self.workerName()
    }

    /// Starts the thread; false when the system has none to give.
    func start() -> Bool { Threads.start(stackSize: 512 << 10) { self.loop() } }

    /// Something was queued here: claim now.
    func wake() {
        lock.withLock {
            queuedHere = true
            changed = true
            wakeUp.signal()
        }
    }

    /// Under the lock: whether to claim now. Not while draining, and not
    /// until at most half the limit is held: a claim is a transaction (with
    /// PostgreSQL, a round trip and a commit), and claiming the one or two
    /// jobs finished since the last one kept the delivery threads waiting
    /// for the scheduler (PostgreSQL delivered a fifth of what it accepted).
    private var mayClaim: Bool { !draining && held.count <= claimLimit / 2 }

    /// Jobs held: waiting for a delivery thread, delivering, or being recorded.
    var attemptsInFlight: Int { lock.withLock { held.count } }

    /// No more claims; jobs not started yet are given back now (the caller's
    /// thread makes the store calls). Running ones go on, their dots stopped
    /// by the lifecycle near the deadline; their leases are still renewed.
    func drain() {
        let waiting: [QueuedAttempt] = lock.withLock {
            draining = true
            wakeUp.signal()
            return held.values.filter { $0.takeBack() }
        }
        for attempt in waiting { giveBack(attempt) }
    }

    private func loop() {
        var nextDue: Int64 = 0
        var lastLook = 0.0
        var lastRenewal = Clock.seconds()
        var lastHousekeeping = 0.0
        var storeUp = true
        func failed(_ what: String, _ error: StoreError) {
            if storeUp { context.telemetry.storeProblem(what, error) }
            storeUp = false
            // No gauges rather than stale ones.
            context.telemetry.queueReading {
                $0.storeUp = false
                $0.metrics = nil
            }
        }
        func answered() {
            if !storeUp { context.telemetry.storeRecovered() }
            storeUp = true
        }
        while true {
            let queued = lock.withLock {
                let queued = queuedHere
                queuedHere = false
                changed = false
                return queued
            }
            if Clock.seconds() - lastLook >= Self.lookSeconds {
                lastLook = Clock.seconds()
                do throws(StoreError) {
                    let reading = try context.store.queueMetrics(now: Clock.epochSeconds())
                    let claimed = attemptsInFlight
                    context.telemetry.queueReading {
                        $0.metrics = reading
                        $0.storeUp = true
                        $0.claimed = claimed
                    }
                    // Work queued by other replicas, retries now due, leases run out.
                    nextDue = try context.store.nextClaimableAt() ?? Int64.max
                    answered()
                } catch {
                    failed("reading the queue", error)
                }
            }
            if queued { nextDue = 0 }
            let (room, claimNow, isDraining) = lock.withLock { (claimLimit - held.count, self.mayClaim, draining) }
            if claimNow && Clock.epochSeconds() >= nextDue {
                do throws(StoreError) {
                    let jobs = try context.store.claimDueJobs(
                        worker: worker, limit: room, leaseSeconds: context.leaseSeconds, now: Clock.epochSeconds())
                    answered()
                    let refused = jobs.filter { !submit($0) }.count
                    // All it asked for: more may be due. Fewer: none is, until something
                    // changes. Refused by a pool full of requests: not again for a second.
                    nextDue = jobs.count == room && refused == 0 ? 0 : Clock.epochSeconds() + 1
                } catch {
                    failed("claiming jobs", error)
                    nextDue = Clock.epochSeconds() + 1
                }
            }
            if Clock.seconds() - lastRenewal >= max(1, Double(context.leaseSeconds) / 3) {
                lastRenewal = Clock.seconds()
                renewLeases()
            }
            if !isDraining && Clock.seconds() - lastHousekeeping >= Self.housekeepingSeconds {
                lastHousekeeping = Clock.seconds()
                keepHouse()
            }
            lock.withLock {
                let room = mayClaim
                guard !changed && !(room && Clock.epochSeconds() >= nextDue) else { return }
                // Without room, a finished job (or the next look) wakes the loop.
                var wait = lastLook + Self.lookSeconds - Clock.seconds()
                if room { wait = min(wait, Double(min(nextDue - Clock.epochSeconds(), 3600))) }
                lock.wait(on: wakeUp, timeout: .milliseconds(Int(max(0.005, wait) * 1000)))
            }
        }
    }

    /// false: given back at once (the pool refused it, or the drain began).
    private func submit(_ job: ClaimedJob) -> Bool {
        let attempt = QueuedAttempt(job)
        let key = ObjectIdentifier(attempt)
        let draining = lock.withLock {
            held[key] = attempt
            return self.draining
        }
        let context = self.context
        let accepted =
            !draining
            && pool.submit([
                WorkerPool.Job(destination: DeliveryService.poolDestination(job.host)) { [self] in
                    guard attempt.start() else { return }
                    attempt.run(context) { [self] in finished(attempt) }
                }
            ])
        // The pool is full of requests (or we are stopping): back to the store, due now.
        if !accepted && attempt.takeBack() { giveBack(attempt) }
        return accepted
    }

    private func giveBack(_ attempt: QueuedAttempt) {
        let result = attempt.giveBack(context)
        context.telemetry.attemptFinished(
            AttemptRecord(
                job: attempt.job, report: DeliveryReport(failure: LocalFailure.stoppedBeforeFinalDot.report),
                result: result, started: Clock.seconds()))
        finished(attempt)
    }

    private func finished(_ attempt: QueuedAttempt) {
        lock.withLock {
            held[ObjectIdentifier(attempt)] = nil
            changed = true
            wakeUp.signal()
        }
    }

    /// Every held job's lease, in one transaction; one not started whose
    /// lease was lost is dropped (another worker has it).
    private func renewLeases() {
        let attempts = lock.withLock { Array(held.values) }
        guard !attempts.isEmpty else { return }
        do throws(StoreError) {
            let renewed = try context.store.renewLeases(
                attempts.map(\.job), leaseSeconds: context.leaseSeconds, now: Clock.epochSeconds())
            for (attempt, held) in zip(attempts, renewed) where !held && attempt.takeBack() {
                context.telemetry.attemptFinished(
                    AttemptRecord(
                        job: attempt.job, report: DeliveryReport(failure: LocalFailure.stoppedBeforeFinalDot.report),
                        result: .leaseLost, started: Clock.seconds()))
                finished(attempt)
            }
        } catch {
            context.telemetry.storeProblem("renewing leases", error)
        }
    }

    /// Expired idempotency keys, and deliveries finished longer ago than the retention.
    private func keepHouse() {
        let now = Clock.epochSeconds()
        do throws(StoreError) {
            try context.store.expireIdempotencyKeys(now: now)
            for _ in 0..<20 {
                guard try context.store.removeFinishedDeliveries(finishedBefore: now - retentionSeconds) == 500 else {
                    break
                }
            }
        } catch {
            context.telemetry.storeProblem("removing old keys and deliveries", error)
        }
    }

    private static func workerName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(host)/\(getpid())/\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }
}
