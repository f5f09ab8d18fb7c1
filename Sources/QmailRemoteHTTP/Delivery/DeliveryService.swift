// Runs the deliveries of one request through the core: admission by the
// limiter, the control files (re-read at most once a second, so edits apply
// without a restart), one delivery per host group, groups at once on their
// own threads.

import QmailRemote

public struct GroupResult: Sendable {
    public let host: [UInt8]
    public let recipientIndices: [Int]
    public let report: DeliveryReport
    public let seconds: Double
}

public final class DeliveryService: Sendable {
    public let limiter: DeliveryLimiter
    public let environment: Environment
    public let metrics: Metrics
    /// SMTP connections kept between deliveries; nil: a connection per delivery.
    public let connections: ConnectionCache?
    /// Called with a diagnostic when the installation cannot be read.
    let complain: @Sendable (String) -> Void
    private let configurations: ConfigurationCache

    public init(
        limiter: DeliveryLimiter, environment: Environment, metrics: Metrics,
        connections: ConnectionCache? = nil, complain: @escaping @Sendable (String) -> Void
    ) {
        self.limiter = limiter
        self.environment = environment
        self.metrics = metrics
        self.connections = connections
        self.complain = complain
        self.configurations = ConfigurationCache(environment: environment)
    }

    /// Delivers or refuses (503) when the queue is full or the gateway is stopping.
    public func deliver(_ input: DeliveryInput, message: StoredMessage) throws(APIError) -> [GroupResult] {
        let groups = input.groups
        switch limiter.admit(groups.count) {
        case .full?: throw .overloaded
        case .shuttingDown?: throw .shuttingDown
        case nil: break
        }
        let (configuration, fresh) = configurations.current()
        if fresh, case .failure(let error) = configuration { complain(error.diagnostic) }
        let jobs: [@Sendable () -> GroupResult] = groups.map { group in
            { [limiter, metrics, connections] in
                limiter.acquire()
                metrics.deliveryStarted()
                let started = Clock.seconds()
                let request = DeliveryRequest(
                    host: group.host, sender: input.sender,
                    recipients: group.recipientIndices.map { input.recipients[$0] })
                let report: DeliveryReport
                switch configuration {
                case .success(let configuration):
                    report = RemoteDelivery.deliver(
                        request, message: message.reader(), configuration: configuration, connections: connections)
                case .failure(let error):
                    report = DeliveryReport(failure: error.failure.report)
                }
                let seconds = Clock.seconds() - started
                limiter.release()
                metrics.deliveryFinished(report, seconds: seconds)
                return GroupResult(
                    host: group.host, recipientIndices: group.recipientIndices,
                    report: report, seconds: seconds)
            }
        }
        return DeliveryThreads.runAll(jobs)
    }
}
