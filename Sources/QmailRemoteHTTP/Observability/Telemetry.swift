// The one place that observes the gateway: each finished request becomes one
// JSON log line and its metrics, each delivery its outcome and duration,
// each connection the gateway closes its reason. Nothing else writes
// metrics; nothing else logs requests. Never logs a message body.

import Logging
import QmailRemote

/// What a request log line says beyond method, path, status and duration.
public struct RequestSummary: Sendable {
    /// The name of the token (or client certificate) the request came with; never the token.
    public var token: String?
    public var sender: String?
    public var recipientCount: Int?
    public var hosts: [String] = []
    public var outcome: Outcome?
    public var recipientOutcomes: [Outcome] = []
    public var error: String?

    public init() {}
}

/// One request, answered or not, as it is logged.
public struct RequestRecord: Sendable {
    public var id: String
    public var method: String
    public var path: String
    public var client: String
    /// nil: the connection went away before an answer.
    public var status: Int?
    /// libmicrohttpd answered it itself (see the README for which requests).
    public var answeredByLibrary = false
    public var started: Double
    public var summary = RequestSummary()

    public init(id: String, method: String, path: String, client: String, status: Int?, started: Double) {
        self.id = id
        self.method = method
        self.path = path
        self.client = client
        self.status = status
        self.started = started
    }
}

public final class Telemetry: Sendable {
    public let metrics: Metrics
    let logger: Logger

    public init(metrics: Metrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    public func requestFinished(_ record: RequestRecord) {
        // libmicrohttpd's own answers are counted when it says it made them.
        if let status = record.status, !record.answeredByLibrary {
            metrics.requestAnswered(
                status: status, recipients: record.summary.recipientOutcomes, byLibrary: record.answeredByLibrary)
        }
        var metadata: Logger.Metadata = [
            "request_id": "\(record.id)", "method": "\(record.method)", "path": "\(record.path)",
            "client": "\(record.client)",
            "status": record.status.map { "\($0)" } ?? "aborted",
            "duration_ms": "\(Int((Clock.seconds() - record.started) * 1000))",
        ]
        let summary = record.summary
        if record.answeredByLibrary { metadata["answered_by"] = "libmicrohttpd" }
        if let token = summary.token {
            metadata["token"] = "\(token)"
            if let status = record.status {
                metrics.tokenRequest(token, result: summary.outcome?.rawValue ?? summary.error ?? "status_\(status)")
            }
        }
        if let sender = summary.sender { metadata["sender"] = "\(sender)" }
        if let count = summary.recipientCount { metadata["recipients"] = "\(count)" }
        if !summary.hosts.isEmpty { metadata["hosts"] = .array(summary.hosts.map { "\($0)" }) }
        if let outcome = summary.outcome { metadata["outcome"] = "\(outcome.rawValue)" }
        if let error = summary.error { metadata["error"] = "\(error)" }
        logger.info("request", metadata: metadata)
    }

    /// libmicrohttpd answered a request itself (it says so in its log).
    func libraryAnswered(status: Int) { metrics.requestAnswered(status: status, recipients: [], byLibrary: true) }

    func deliveryStarted() { metrics.deliveryStarted() }

    func deliveryFinished(_ report: DeliveryReport, seconds: Double) {
        metrics.deliveryFinished(
            Outcome(report.messageReport.letter, possibleDuplicate: report.possibleDuplicate), seconds: seconds)
    }

    /// Counted, not logged: under attack these come by the thousand.
    func connectionClosed(_ reason: Metrics.CloseReason) { metrics.connectionClosed(reason) }

    func installationProblem(_ diagnostic: String) {
        logger.error("installation", metadata: ["problem": "\(diagnostic)"])
    }

    /// A client certificate that did not verify against --tls-client-ca (its requests then get 401).
    func clientCertificateRefused(_ client: String, reason: String) {
        logger.warning("client certificate refused", metadata: ["client": "\(client)", "problem": "\(reason)"])
    }

    func libraryProblem(_ text: String) {
        logger.warning("libmicrohttpd", metadata: ["problem": "\(text)"])
    }
}
