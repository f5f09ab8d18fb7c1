// Runs the deliveries of one request through the core: one delivery per host
// group, all admitted to the delivery pool at once or refused (503), the
// control files re-read at most once a second. Nothing waits for anything:
// the last group to finish hands the results on. At the drain deadline every
// request still delivering is finished at once, each unfinished group by what
// its final-dot gate knows: not delivered, or maybe delivered.

import QmailRemote
import QmailSupport

public struct GroupResult: Sendable {
    public let host: [UInt8]
    public let recipientIndices: [Int]
    public let report: DeliveryReport

    public init(host: [UInt8], recipientIndices: [Int], report: DeliveryReport) {
        self.host = host
        self.recipientIndices = recipientIndices
        self.report = report
    }
}

public final class DeliveryService: @unchecked Sendable {
    // @unchecked: `live` is read and written under `lock` only.
    let pool: WorkerPool
    let lifecycle: Lifecycle
    let telemetry: Telemetry
    /// SMTP connections kept between deliveries; nil: a connection per delivery.
    public let connections: ConnectionCache?
    /// Which addresses deliveries may connect to; nil: any (as the command).
    let destinationPolicy: DestinationPolicy?
    private let configurations: ConfigurationCache
    private let lock = Lock()
    private var live: [ObjectIdentifier: DeliveryExecution] = [:]

    public init(
        pool: WorkerPool, environment: Environment, lifecycle: Lifecycle, telemetry: Telemetry,
        connections: ConnectionCache? = nil, destinationPolicy: DestinationPolicy? = nil
    ) {
        self.pool = pool
        self.destinationPolicy = destinationPolicy
        self.lifecycle = lifecycle
        self.telemetry = telemetry
        self.connections = connections
        configurations = ConfigurationCache(environment: environment)
    }

    /// Starts the deliveries; `done` is called exactly once, on some other thread.
    /// Refused (503) when the pool's queue cannot take them all.
    public func start(
        _ input: DeliveryInput, message: StoredMessage, done: @escaping @Sendable ([GroupResult]) -> Void
    ) throws(APIError) {
        let groups = input.groups
        let (configuration, fresh) = configurations.current()
        if fresh, case .failure(let error) = configuration { telemetry.installationProblem(error.diagnostic) }
        let execution = DeliveryExecution(groups: groups) { [weak self] execution, results in
            self?.forget(execution)
            done(results)
        }
        let jobs = groups.enumerated().map { index, group in
            WorkerPool.Job(destination: Self.poolDestination(group.host)) { [self] in
                let gate = execution.gates[index]
                let request = DeliveryRequest(
                    host: group.host, sender: input.sender,
                    recipients: group.recipientIndices.map { input.recipients[$0] },
                    proceed: { [lifecycle] step in
                        if lifecycle.finalDotsStopped { gate.close() }
                        return step == .finalDot ? gate.commit() : !gate.isClosed
                    })
                execution.finished(index, report: self.deliver(request, message, configuration, gate))
            }
        }
        lock.withLock { live[ObjectIdentifier(execution)] = execution }
        guard pool.submit(jobs) else {
            forget(execution)
            throw .overloaded
        }
    }

    /// The destination a delivery to `host` counts against in the pool's
    /// per-destination limit, for requests and queued attempts alike.
    static func poolDestination(_ host: [UInt8]) -> [UInt8] { ASCII.lowercased(host) }

    /// The drain deadline is near: no delivery sends its final dot from now on.
    public func stopFinalDots() {
        lifecycle.stopFinalDots()
        for execution in lock.withLock({ Array(live.values) }) {
            for gate in execution.gates { gate.close() }
        }
    }

    /// The drain deadline: every request still delivering gets its results now.
    public func finishAllNow() {
        for execution in lock.withLock({ Array(live.values) }) { execution.finishNow() }
    }

    private func deliver(
        _ request: DeliveryRequest, _ message: StoredMessage,
        _ configuration: Result<Configuration, Configuration.LoadError>, _ gate: FinalDotGate
    ) -> DeliveryReport {
        if gate.isClosed || (lifecycle.finalDotsStopped && gate.close()) {
            return DeliveryReport(failure: LocalFailure.stoppedBeforeFinalDot.report)
        }
        return run(request, message.reader(), configuration)
    }

    /// One queued attempt, on the calling thread (a thread of this pool, where
    /// the queue submitted it): the same control files, connections and
    /// metrics and destination policy as a request's deliveries. The
    /// request's `proceed` decides the final dot (the queue marks it in the
    /// store first).
    func deliverQueued(_ request: DeliveryRequest, message: any MessageSource) -> DeliveryReport {
        let (configuration, fresh) = configurations.current()
        if fresh, case .failure(let error) = configuration { telemetry.installationProblem(error.diagnostic) }
        return run(request, message, configuration)
    }

    /// Every delivery, a request's or a queued one, goes out through here
    /// under the outbound destination policy.
    private func run(
        _ request: DeliveryRequest, _ message: any MessageSource,
        _ configuration: Result<Configuration, Configuration.LoadError>
    ) -> DeliveryReport {
        var request = request
        request.destinationFilter = destinationPolicy?.filter
        telemetry.deliveryStarted()
        let started = Clock.seconds()
        let report: DeliveryReport
        switch configuration {
        case .success(let configuration):
            report = RemoteDelivery.deliver(
                request, message: message, configuration: configuration, connections: connections)
        case .failure(let error):
            report = DeliveryReport(failure: error.failure.report)
        }
        telemetry.deliveryFinished(report, seconds: Clock.seconds() - started)
        return report
    }

    private func forget(_ execution: DeliveryExecution) {
        _ = lock.withLock { live.removeValue(forKey: ObjectIdentifier(execution)) }
    }
}

/// One request's deliveries: their results as they come, and the gates of their final dots.
final class DeliveryExecution: @unchecked Sendable {
    // @unchecked: `results` and `handedOn` are read and written under `lock` only.
    let groups: [(host: [UInt8], recipientIndices: [Int])]
    let gates: [FinalDotGate]
    private let lock = Lock()
    private var results: [DeliveryReport?]
    private var handedOn = false
    private let done: @Sendable (DeliveryExecution, [GroupResult]) -> Void

    init(
        groups: [(host: [UInt8], recipientIndices: [Int])],
        done: @escaping @Sendable (DeliveryExecution, [GroupResult]) -> Void
    ) {
        self.groups = groups
        gates = groups.map { _ in FinalDotGate() }
        results = Array(repeating: nil, count: groups.count)
        self.done = done
    }

    func finished(_ index: Int, report: DeliveryReport) {
        let complete: [DeliveryReport]? = lock.withLock {
            results[index] = report
            guard !handedOn, results.allSatisfy({ $0 != nil }) else { return nil }
            handedOn = true
            return results.map { $0! }
        }
        if let complete { handOn(complete) }
    }

    /// Results now: each unfinished group is "not delivered" if its dot was
    /// never sent, "maybe delivered" if it was and no reply came.
    func finishNow() {
        let complete: [DeliveryReport]? = lock.withLock {
            guard !handedOn else { return nil }
            handedOn = true
            return results.enumerated().map { index, report in
                report ?? (gates[index].close() ? Self.stopped : Self.unansweredDot)
            }
        }
        if let complete { handOn(complete) }
    }

    private func handOn(_ reports: [DeliveryReport]) {
        done(
            self,
            zip(groups, reports).map {
                GroupResult(host: $0.host, recipientIndices: $0.recipientIndices, report: $1)
            })
    }

    static let stopped = DeliveryReport(failure: LocalFailure.stoppedBeforeFinalDot.report)

    /// A delivery the gateway stopped waiting for after its final dot.
    static let unansweredDot: DeliveryReport = {
        var report = DeliveryReport(failure: LocalFailure.stoppedAwaitingFinalReply.report)
        report.possibleDuplicate = true
        return report
    }()
}
