// One claimed job from the delivery pool to the store: the message read back
// from the store, one SMTP delivery whose final dot is first marked in the
// store (so that a crash after it is known as a possible duplicate), then
// the result recorded without waiting (and, should the store fail, retried
// for a while by a store caller thread) and one log line. A job the gateway
// stops before its dot is given back untried. Not the scheduling:
// QueueScheduler claims and submits.

import QmailRemote
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What every attempt shares.
struct QueueContext: Sendable {
    let store: DeliveryStore
    let callers: StoreCallers
    let lifecycle: Lifecycle
    let telemetry: Telemetry
    let lifetime: QueueLifetime
    let leaseSeconds: Int64
    /// Runs one delivery on the calling thread: DeliveryService.deliverQueued
    /// in the gateway (same control files, connections and metrics as requests).
    let deliver: @Sendable (DeliveryRequest, any MessageSource) -> DeliveryReport
}

final class QueuedAttempt: Sendable {
    let job: ClaimedJob
    private static let waiting: UInt8 = 0
    private static let running: UInt8 = 1
    private static let givenBack: UInt8 = 2
    private let state = Atomic<UInt8>(QueuedAttempt.waiting)
    /// Our own `proceed` stopped the delivery (the drain, or the store at the dot).
    private let stoppedHere = Atomic<Bool>(false)

    init(_ job: ClaimedJob) { self.job = job }

    /// A delivery thread takes it; false when it was given back meanwhile.
    func start() -> Bool { take(.running) }

    /// The scheduler takes it back before it started; false when it has.
    func takeBack() -> Bool { take(.givenBack) }

    private enum Next { case running, givenBack }

    private func take(_ next: Next) -> Bool {
        let desired = next == .running ? Self.running : Self.givenBack
        return state.compareExchange(expected: Self.waiting, desired: desired, ordering: .sequentiallyConsistent)
            .exchanged
    }

    /// On a delivery thread. `done` is called once the store has the result
    /// (or it was given up), on a store caller thread.
    func run(_ context: QueueContext, done: @escaping @Sendable () -> Void) {
        let started = Clock.seconds()
        let job = self.job
        let request = DeliveryRequest(
            host: job.host, sender: job.sender, recipients: job.recipients.map(\.address),
            proceed: { [self] step in
                if context.lifecycle.finalDotsStopped {
                    stoppedHere.store(true, ordering: .sequentiallyConsistent)
                    return false
                }
                guard step == .finalDot else { return true }
                do throws(StoreError) {
                    // false: another worker has the job now; recording will say so.
                    return try context.store.markFinalDot(
                        job, leaseSeconds: context.leaseSeconds, now: Clock.epochSeconds())
                } catch {
                    context.telemetry.storeProblem("marking the final dot", error)
                    stoppedHere.store(true, ordering: .sequentiallyConsistent)
                    return false
                }
            })
        let report: DeliveryReport
        if let message = Self.message(job.message) {
            report = context.deliver(request, message)
        } else {
            report = DeliveryReport(failure: LocalFailure.unreadableMessage.report)
        }
        let finish: @Sendable (AttemptRecord.Result) -> Void = { result in
            context.telemetry.attemptFinished(AttemptRecord(job: job, report: report, result: result, started: started))
            done()
        }
        if stoppedHere.load(ordering: .sequentiallyConsistent) {
            return context.callers.submit { [self] in finish(giveBack(context)) }
        }
        // Recorded without waiting here; a store that fails is tried again off this thread.
        context.store.recordAttemptAsync(
            job, report: report, schedule: context.lifetime.schedule(), now: Clock.epochSeconds()
        ) { [self] result in
            switch result {
            case .success(.recorded(let outcome)): finish(.recorded(outcome))
            case .success(.leaseLost): finish(.leaseLost)
            case .failure: context.callers.submit { [self] in finish(record(report, context)) }
            }
        }
    }

    /// Gives the job back untried, as the scheduler does for one that never started.
    func giveBack(_ context: QueueContext) -> AttemptRecord.Result {
        do throws(StoreError) {
            return try context.store.release(job) ? .givenBack : .leaseLost
        } catch {
            // The lease runs out instead, and the next claim decides.
            return .notRecorded(error)
        }
    }

    /// Records the report, retrying for a while (twice the lease, at least a
    /// minute): a store that is back by then loses no result, as long as no
    /// other worker has taken the job over meanwhile.
    private func record(_ report: DeliveryReport, _ context: QueueContext) -> AttemptRecord.Result {
        let deadline = Clock.seconds() + Double(max(60, 2 * context.leaseSeconds))
        var pause: UInt32 = 200_000
        while true {
            do throws(StoreError) {
                switch try context.store.recordAttempt(
                    job, report: report, schedule: context.lifetime.schedule(), now: Clock.epochSeconds())
                {
                case .recorded(let outcome): return .recorded(outcome)
                case .leaseLost: return .leaseLost
                }
            } catch {
                if Clock.seconds() + Double(pause) / 1e6 > deadline { return .notRecorded(error) }
                usleep(pause)
                pause = min(pause * 2, 5_000_000)
            }
        }
    }

    /// The message as the store holds it: in the claim, or in a file beside a SQLite database.
    private static func message(_ body: StoredBody) -> (any MessageSource)? {
        switch body {
        case .inline(let bytes): return StoredMessage(bytes).reader()
        case .file(let path): return QueuedBodyFile(path: path)
        }
    }
}

/// A body file beside the SQLite database, open for one attempt.
private final class QueuedBodyFile: MessageSource {
    private let path: String
    private let fd: Int32
    private let reader: FileDescriptorMessage

    init?(path: String) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        reader = FileDescriptorMessage(fd: fd)
    }

    deinit { close(fd) }

    /// For DKIM's signing pass: the file opened once more (it stays until the attempt is recorded).
    func readerFromStart() -> (any MessageSource)? { QueuedBodyFile(path: path) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        try reader.read(into: buffer)
    }

    func facts() -> MessageFacts? { reader.facts() }
}
