// The one place that observes the gateway: each finished request becomes one
// JSON log line and its metrics, each delivery its outcome and duration,
// each queue attempt one log line, each connection the gateway closes its
// reason, each reading of the queue its gauges. Nothing else writes metrics;
// nothing else logs requests or attempts. Never logs a message body.

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
    /// The queued delivery this request made.
    public var deliveryID: String?
    /// What the request's Idempotency-Key led to.
    public var idempotency: Metrics.IdempotencyResult?

    public init() {}
}

/// One queue attempt, as it is logged.
public struct AttemptRecord: Sendable {
    public enum Result: Sendable {
        /// Recorded in the store with this outcome.
        case recorded(AttemptOutcome)
        /// Given back untried (the gateway stopping, or the store failing at the final dot).
        case givenBack
        /// Another worker had taken the job over: nothing recorded.
        case leaseLost
        /// The store could not take the result before the lease ran out.
        case notRecorded(StoreError)
    }

    public var job: ClaimedJob
    public var report: DeliveryReport
    public var result: Result
    public var started: Double
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
                metrics.tokenRequest(token, result: Self.tokenResult(summary, status: status))
            }
        }
        if let sender = summary.sender { metadata["sender"] = "\(sender)" }
        if let count = summary.recipientCount { metadata["recipients"] = "\(count)" }
        if !summary.hosts.isEmpty { metadata["hosts"] = .array(summary.hosts.map { "\($0)" }) }
        if let outcome = summary.outcome { metadata["outcome"] = "\(outcome.rawValue)" }
        if let error = summary.error { metadata["error"] = "\(error)" }
        if let id = summary.deliveryID { metadata["delivery_id"] = "\(id)" }
        if let result = summary.idempotency {
            metadata["idempotency"] = "\(result.rawValue)"
            metrics.idempotency(result)
        }
        logger.info("request", metadata: metadata)
    }

    /// What /metrics counts a token's request as: the delivery's outcome,
    /// the refusal's code, a key's answer replayed, a delivery queued (202),
    /// else the status.
    static func tokenResult(_ summary: RequestSummary, status: Int) -> String {
        if let outcome = summary.outcome { return outcome.rawValue }
        if let error = summary.error { return error }
        if summary.idempotency == .replayed { return "replayed" }
        if status == 202 && summary.deliveryID != nil { return "queued" }
        return "status_\(status)"
    }

    /// One line per queue attempt: which delivery, host and attempt, what
    /// became of it, and the message report (never the message).
    func attemptFinished(_ record: AttemptRecord) {
        let job = record.job
        let result: String
        switch record.result {
        case .recorded(let outcome): result = outcome.rawValue
        case .givenBack: result = "given_back"
        case .leaseLost: result = "lease_lost"
        case .notRecorded: result = "not_recorded"
        }
        var metadata: Logger.Metadata = [
            "delivery_id": "\(job.deliveryID)", "host": "\(String(decoding: job.host, as: UTF8.self))",
            "attempt": "\(job.attempt)", "recipients": "\(job.recipients.count)", "result": "\(result)",
            "report": "\(String(record.report.messageReport.letter.character))",
            "text": "\(String(decoding: record.report.messageReport.text, as: UTF8.self))",
            "possible_duplicate": "\(job.possibleDuplicate || record.report.possibleDuplicate)",
            "worker": "\(job.worker)",
            "duration_ms": "\(Int((Clock.seconds() - record.started) * 1000))",
        ]
        if case .notRecorded(let error) = record.result { metadata["error"] = "\(error)" }
        logger.info("attempt", metadata: metadata)
    }

    /// The queue's gauges as just read (or not) from the store.
    func queueReading(_ change: (inout QueueGauges.Reading) -> Void) { metrics.queueReading(change) }

    /// The store failed where the queue needed it (logged once per outage by the caller).
    func storeProblem(_ what: String, _ error: StoreError) {
        logger.warning("store", metadata: ["while": "\(what)", "problem": "\(error)", "kind": "\(error.kind)"])
    }

    func storeRecovered() { logger.info("store", metadata: ["problem": "none: the store answers again"]) }

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
