// What GET /v1/deliveries/{id} shows, as read from the store: the delivery's
// state, each recipient's outcome and schedule, and every attempt's report
// sequence. The state is derived here, in one place; JSON is the gateway's.

public struct DeliveryStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case queued, delivering, delivered, deferred, failed, mixed
    }

    public let id: String
    public let state: State
    public let sender: [UInt8]
    public let host: [UInt8]?
    public let queuedAt: Int64
    public let finishedAt: Int64?
    public let recipients: [RecipientStatus]
    public let attempts: [AttemptStatus]
}

public struct RecipientStatus: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case pending, deferred, delivered, failed
    }

    public let address: [UInt8]
    public let host: [UInt8]
    public let outcome: Outcome
    public let attempts: Int64
    /// When the next attempt is due; nil once delivered or failed.
    public let nextAttemptAt: Int64?
    /// An attempt wrote the final dot and lost the answer: the recipient may
    /// get the message twice.
    public let possibleDuplicate: Bool
    /// The last report for this recipient (letter and text), if any.
    public let report: ReportEntry?
}

public struct AttemptStatus: Sendable, Equatable {
    public let host: [UInt8]
    public let number: Int64
    public let startedAt: Int64
    public let finishedAt: Int64?
    /// nil while running.
    public let outcome: AttemptOutcome?
    /// The report sequence as the command prints it: recipient reports, then
    /// the message report.
    public let reports: [ReportEntry]
}

public struct ReportEntry: Sendable, Equatable {
    public let letter: Character
    public let text: [UInt8]

    public init(letter: Character, text: [UInt8]) {
        self.letter = letter
        self.text = text
    }

    static func encode(_ entries: [ReportEntry]) -> [UInt8] {
        FieldCodec.encode(entries.flatMap { [Array(String($0.letter).utf8), $0.text] })
    }

    static func decode(_ bytes: [UInt8]) -> [ReportEntry] {
        let fields = FieldCodec.decode(bytes)
        return stride(from: 0, to: fields.count - 1, by: 2).map {
            ReportEntry(letter: String(decoding: fields[$0], as: UTF8.self).first ?? "?", text: fields[$0 + 1])
        }
    }
}

extension DeliveryStatus.State {
    /// A delivery with a running attempt is delivering; one whose recipients
    /// are all done is delivered, failed or mixed; one with any deferred
    /// recipient waits for a retry; else it is queued.
    init(recipients: [RecipientStatus.Outcome], running: Bool) {
        if running { self = .delivering; return }
        if recipients.contains(.deferred) { self = .deferred; return }
        if recipients.contains(.pending) { self = .queued; return }
        let delivered = recipients.contains(.delivered)
        let failed = recipients.contains(.failed)
        self = delivered && failed ? .mixed : failed ? .failed : .delivered
    }
}

/// Gauges and counters for /metrics, read from the store (for PostgreSQL:
/// across every replica).
public struct QueueMetrics: Sendable, Equatable {
    /// Deliveries with a recipient still pending or deferred.
    public let queuedDeliveries: Int64
    /// Recipients still pending or deferred.
    public let queuedRecipients: Int64
    /// Seconds since the oldest unfinished delivery was queued; 0 when none.
    public let oldestQueuedAge: Int64
    /// Attempts recorded since the store was created, by outcome.
    public let attemptsByOutcome: [AttemptOutcome: Int64]
}
