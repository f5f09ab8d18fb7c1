// Counters for GET /metrics, rendered in the Prometheus text format:
// deliveries and recipients by outcome, a delivery duration histogram,
// deliveries in flight, HTTP requests by status.

import QmailRemote

public final class Metrics: @unchecked Sendable {
    // @unchecked: `state` is read and written under `lock` only.
    static let buckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 1200]
    /// Outcomes of deliveries and recipients, in the order they are printed.
    static let outcomes: [Outcome] = [.deferred, .delivered, .failed]

    private struct State {
        var deliveries = [Int](repeating: 0, count: Metrics.outcomes.count)
        var recipients = [Int](repeating: 0, count: Metrics.outcomes.count)
        var bucketCounts = [Int](repeating: 0, count: Metrics.buckets.count)
        var durationCount = 0
        var durationSum = 0.0
        var inFlight = 0
        /// Answers by HTTP status, 100...599.
        var requests = [Int](repeating: 0, count: 600)
    }

    private let lock = Lock()
    private var state = State()

    public init() {}

    private static func index(_ outcome: Outcome) -> Int { outcomes.firstIndex(of: outcome) ?? 0 }

    func deliveryStarted() { lock.withLock { state.inFlight += 1 } }

    func deliveryFinished(_ report: DeliveryReport, seconds: Double) {
        let outcome = Self.index(Outcome(messageLetter: report.messageReport.letter))
        let bucket = Self.buckets.firstIndex { seconds <= $0 }
        lock.withLock {
            state.inFlight -= 1
            state.deliveries[outcome] += 1
            state.durationCount += 1
            state.durationSum += seconds
            if let bucket { state.bucketCounts[bucket] += 1 }
        }
    }

    public func recipientsFinished(_ outcomes: [Outcome]) {
        let indices = outcomes.map(Self.index)
        lock.withLock { for index in indices { state.recipients[index] += 1 } }
    }

    public func requestAnswered(status: Int) {
        guard (100..<600).contains(status) else { return }
        lock.withLock { state.requests[status] += 1 }
    }

    public func prometheusText() -> String {
        var s = lock.withLock { state }
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
        family("qmail_remote_httpd_http_requests_total", "counter", "HTTP requests answered, by status.")
        for (status, count) in s.requests.enumerated() where count > 0 {
            out += "qmail_remote_httpd_http_requests_total{status=\"\(status)\"} \(count)\n"
        }
        return out
    }
}
