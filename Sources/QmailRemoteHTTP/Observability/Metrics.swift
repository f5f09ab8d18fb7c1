// Counters for GET /metrics, rendered in the Prometheus text format:
// deliveries and recipients by outcome, a delivery duration histogram,
// deliveries in flight, HTTP requests by status (and those libmicrohttpd
// answered itself), connections closed by the gateway and why, connections
// open, body memory in use, SMTP connections opened, reused and idle,
// requests by token name and result, Idempotency-Key outcomes, and the queue
// (QueueGauges). Fed by Telemetry only.

import QmailRemote
import QmailSupport

public final class Metrics: @unchecked Sendable {
    // @unchecked: `state` is read and written under `lock` only.
    static let buckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 1200]
    /// Outcomes of deliveries and recipients, in the order they are printed.
    static let outcomes: [Outcome] = [.deferred, .delivered, .failed, .uncertain]

    /// Why the gateway closed a connection it had accepted.
    public enum CloseReason: String, CaseIterable, Sendable {
        case headerTimeout = "header_timeout"
        case bodyTooSlow = "body_too_slow"
        case tooManyConnections = "too_many_connections"
        case idleEvicted = "idle_evicted"
        case drain
    }

    private struct State {
        var deliveries = [Int](repeating: 0, count: Metrics.outcomes.count)
        var recipients = [Int](repeating: 0, count: Metrics.outcomes.count)
        var bucketCounts = [Int](repeating: 0, count: Metrics.buckets.count)
        var durationCount = 0
        var durationSum = 0.0
        var inFlight = 0
        /// Answers by HTTP status, 100...599.
        var requests = [Int](repeating: 0, count: 600)
        var libraryAnswers = [Int](repeating: 0, count: 600)
        var closes = [Int](repeating: 0, count: CloseReason.allCases.count)
        var idempotency = [Int](repeating: 0, count: IdempotencyResult.allCases.count)
        /// Answered requests by token name and result (the answer's outcome or the refusal's code).
        var byToken: [String: [String: Int]] = [:]
    }

    /// What a request's Idempotency-Key led to.
    public enum IdempotencyResult: String, CaseIterable, Sendable {
        /// The first request with the key: it ran.
        case new
        /// The stored answer was sent again.
        case replayed
        /// 409: the first request was still running.
        case inProgress = "in_progress"
        /// 422: the key had been used for another request.
        case mismatch
    }

    private let lock = Lock()
    private var state = State()
    /// Read when rendering: connections open and body memory in use.
    private let gauges: @Sendable () -> (waiting: Int, active: Int, bodyMemory: Int)
    /// SMTP connections kept between deliveries, read when rendering.
    private let connections: ConnectionCache?
    /// The queue's last reading; nil renders no queue families.
    private let queue: QueueGauges?

    public init(
        gauges: @escaping @Sendable () -> (waiting: Int, active: Int, bodyMemory: Int) = { (0, 0, 0) },
        connections: ConnectionCache? = nil, queue: QueueGauges? = nil
    ) {
        self.gauges = gauges
        self.connections = connections
        self.queue = queue
    }

    private static func index(_ outcome: Outcome) -> Int { outcomes.firstIndex(of: outcome) ?? 0 }

    func deliveryStarted() { lock.withLock { state.inFlight += 1 } }

    func deliveryFinished(_ outcome: Outcome, seconds: Double) {
        let index = Self.index(outcome)
        let bucket = Self.buckets.firstIndex { seconds <= $0 }
        lock.withLock {
            state.inFlight -= 1
            state.deliveries[index] += 1
            state.durationCount += 1
            state.durationSum += seconds
            if let bucket { state.bucketCounts[bucket] += 1 }
        }
    }

    func requestAnswered(status: Int, recipients: [Outcome], byLibrary: Bool) {
        guard (100..<600).contains(status) else { return }
        let indices = recipients.map(Self.index)
        lock.withLock {
            state.requests[status] += 1
            if byLibrary { state.libraryAnswers[status] += 1 }
            for index in indices { state.recipients[index] += 1 }
        }
    }

    func idempotency(_ result: IdempotencyResult) {
        let index = IdempotencyResult.allCases.firstIndex(of: result)!
        lock.withLock { state.idempotency[index] += 1 }
    }

    func queueReading(_ change: (inout QueueGauges.Reading) -> Void) { queue?.update(change) }

    func tokenRequest(_ token: String, result: String) {
        lock.withLock { state.byToken[token, default: [:]][result, default: 0] += 1 }
    }

    func connectionClosed(_ reason: CloseReason) {
        let index = CloseReason.allCases.firstIndex(of: reason)!
        lock.withLock { state.closes[index] += 1 }
    }

    public func prometheusText() -> String {
        var s = lock.withLock { state }
        let gauge = gauges()
        // Buckets are cumulative in the text format; counted per bucket above.
        for index in s.bucketCounts.indices.dropFirst() { s.bucketCounts[index] += s.bucketCounts[index - 1] }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family(
            "qmail_remote_httpd_deliveries_total", "counter", "SMTP deliveries by the outcome of their message report.")
        for (index, outcome) in Self.outcomes.enumerated() {
            out += "qmail_remote_httpd_deliveries_total{outcome=\"\(outcome.rawValue)\"} \(s.deliveries[index])\n"
        }
        family("qmail_remote_httpd_recipients_total", "counter", "Recipients by outcome.")
        for (index, outcome) in Self.outcomes.enumerated() {
            out += "qmail_remote_httpd_recipients_total{outcome=\"\(outcome.rawValue)\"} \(s.recipients[index])\n"
        }
        family("qmail_remote_httpd_delivery_duration_seconds", "histogram", "Duration of one SMTP delivery.")
        for (index, bound) in Self.buckets.enumerated() {
            out += "qmail_remote_httpd_delivery_duration_seconds_bucket{le=\"\(bound)\"} \(s.bucketCounts[index])\n"
        }
        out += "qmail_remote_httpd_delivery_duration_seconds_bucket{le=\"+Inf\"} \(s.durationCount)\n"
        out += "qmail_remote_httpd_delivery_duration_seconds_sum \(s.durationSum)\n"
        out += "qmail_remote_httpd_delivery_duration_seconds_count \(s.durationCount)\n"
        family("qmail_remote_httpd_deliveries_in_flight", "gauge", "SMTP deliveries running now.")
        out += "qmail_remote_httpd_deliveries_in_flight \(s.inFlight)\n"
        if let connections {
            let counts = connections.currentCounts
            family("qmail_remote_httpd_smtp_connections_opened_total", "counter", "New SMTP connections opened.")
            out += "qmail_remote_httpd_smtp_connections_opened_total \(counts.opened)\n"
            family(
                "qmail_remote_httpd_smtp_connections_reused_total", "counter",
                "Deliveries that ran on an SMTP connection kept from an earlier one.")
            out += "qmail_remote_httpd_smtp_connections_reused_total \(counts.reused)\n"
            family(
                "qmail_remote_httpd_smtp_connections_idle", "gauge", "SMTP connections waiting for the next message.")
            out += "qmail_remote_httpd_smtp_connections_idle \(connections.idleConnections)\n"
        }
        family("qmail_remote_httpd_http_requests_total", "counter", "HTTP requests answered, by status.")
        for (status, count) in s.requests.enumerated() where count > 0 {
            out += "qmail_remote_httpd_http_requests_total{status=\"\(status)\"} \(count)\n"
        }
        family(
            "qmail_remote_httpd_library_answers_total", "counter",
            "Requests libmicrohttpd refused with its own answer, by status (also in http_requests_total).")
        for (status, count) in s.libraryAnswers.enumerated() where count > 0 {
            out += "qmail_remote_httpd_library_answers_total{status=\"\(status)\"} \(count)\n"
        }
        family(
            "qmail_remote_httpd_token_requests_total", "counter",
            "Answered requests by token name and result (the delivery's outcome, or the refusal's code).")
        for token in s.byToken.keys.sorted() {
            for (result, count) in s.byToken[token]!.sorted(by: { $0.key < $1.key }) {
                out += "qmail_remote_httpd_token_requests_total{token=\"\(token)\",result=\"\(result)\"} \(count)\n"
            }
        }
        family("qmail_remote_httpd_connections_closed_total", "counter", "Connections the gateway closed, by reason.")
        for (index, reason) in CloseReason.allCases.enumerated() {
            out += "qmail_remote_httpd_connections_closed_total{reason=\"\(reason.rawValue)\"} \(s.closes[index])\n"
        }
        family(
            "qmail_remote_httpd_connections", "gauge",
            "Open connections: waiting for a request head, or served by libmicrohttpd.")
        out += "qmail_remote_httpd_connections{state=\"waiting\"} \(gauge.waiting)\n"
        out += "qmail_remote_httpd_connections{state=\"active\"} \(gauge.active)\n"
        family("qmail_remote_httpd_body_memory_bytes", "gauge", "Bytes of bodies and messages held in memory.")
        out += "qmail_remote_httpd_body_memory_bytes \(gauge.bodyMemory)\n"
        family(
            "qmail_remote_httpd_idempotency_requests_total", "counter",
            "Requests with an Idempotency-Key, by what it led to (replayed: the stored answer was sent again).")
        for (index, result) in IdempotencyResult.allCases.enumerated() {
            out +=
                "qmail_remote_httpd_idempotency_requests_total{result=\"\(result.rawValue)\"} \(s.idempotency[index])\n"
        }
        if let queue { out += Self.render(queue.current) }
        return out
    }

    /// The queue's families: store-wide gauges and counters (every replica's),
    /// and this gateway's claimed jobs.
    private static func render(_ reading: QueueGauges.Reading) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("qmail_remote_httpd_store_up", "gauge", "Whether the store answered the last reading (1) or not (0).")
        out += "qmail_remote_httpd_store_up \(reading.storeUp ? 1 : 0)\n"
        family("qmail_remote_httpd_queue_jobs_claimed", "gauge", "Queue jobs this gateway holds (waiting or running).")
        out += "qmail_remote_httpd_queue_jobs_claimed \(reading.claimed)\n"
        guard let metrics = reading.metrics else { return out }
        family("qmail_remote_httpd_queue_deliveries", "gauge", "Queued deliveries with a recipient still to deliver.")
        out += "qmail_remote_httpd_queue_deliveries \(metrics.queuedDeliveries)\n"
        family("qmail_remote_httpd_queue_recipients", "gauge", "Queued recipients still to deliver.")
        out += "qmail_remote_httpd_queue_recipients \(metrics.queuedRecipients)\n"
        family(
            "qmail_remote_httpd_queue_oldest_age_seconds", "gauge",
            "Seconds since the oldest unfinished queued delivery was accepted (0: none).")
        out += "qmail_remote_httpd_queue_oldest_age_seconds \(metrics.oldestQueuedAge)\n"
        family(
            "qmail_remote_httpd_queue_attempts_total", "counter",
            "Queue attempts recorded in the store, by outcome (interrupted: a gateway died after the final dot).")
        for outcome in AttemptOutcome.allCases {
            out += "qmail_remote_httpd_queue_attempts_total{outcome=\"\(outcome.rawValue)\"} "
            out += "\(metrics.attemptsByOutcome[outcome] ?? 0)\n"
        }
        return out
    }
}
