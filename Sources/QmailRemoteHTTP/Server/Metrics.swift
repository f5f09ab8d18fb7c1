// Counters for GET /metrics, rendered in the Prometheus text format:
// deliveries and recipients by outcome, a delivery duration histogram,
// deliveries in flight, HTTP requests by status.

import QmailRemote
import Synchronization

public final class Metrics: Sendable {
    static let buckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 1200]

    private struct State {
        var deliveries: [String: Int] = ["delivered": 0, "deferred": 0, "failed": 0]
        var recipients: [String: Int] = ["delivered": 0, "deferred": 0, "failed": 0]
        var bucketCounts = [Int](repeating: 0, count: Metrics.buckets.count)
        var durationCount = 0
        var durationSum = 0.0
        var inFlight = 0
        var requests: [Int: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    func deliveryStarted() { state.withLock { $0.inFlight += 1 } }

    func deliveryFinished(_ report: DeliveryReport, seconds: Double) {
        let outcome = Outcome(messageLetter: report.messageReport.letter).rawValue
        state.withLock { state in
            state.inFlight -= 1
            state.deliveries[outcome, default: 0] += 1
            state.durationCount += 1
            state.durationSum += seconds
            for (index, bound) in Self.buckets.enumerated() where seconds <= bound { state.bucketCounts[index] += 1 }
        }
    }

    public func recipientsFinished(_ outcomes: [Outcome]) {
        state.withLock { state in
            for outcome in outcomes { state.recipients[outcome.rawValue, default: 0] += 1 }
        }
    }

    public func requestAnswered(status: Int) { state.withLock { $0.requests[status, default: 0] += 1 } }

    public func prometheusText() -> String {
        let s = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("qmail_remote_httpd_deliveries_total", "counter", "SMTP deliveries by the outcome of their message report.")
        for (outcome, count) in s.deliveries.sorted(by: { $0.key < $1.key }) {
            out += "qmail_remote_httpd_deliveries_total{outcome=\"\(outcome)\"} \(count)\n"
        }
        family("qmail_remote_httpd_recipients_total", "counter", "Recipients by outcome.")
        for (outcome, count) in s.recipients.sorted(by: { $0.key < $1.key }) {
            out += "qmail_remote_httpd_recipients_total{outcome=\"\(outcome)\"} \(count)\n"
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
        for (status, count) in s.requests.sorted(by: { $0.key < $1.key }) {
            out += "qmail_remote_httpd_http_requests_total{status=\"\(status)\"} \(count)\n"
        }
        return out
    }
}
