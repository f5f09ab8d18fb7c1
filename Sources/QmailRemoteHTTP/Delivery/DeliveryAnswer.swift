// The answer to a delivery: per-recipient outcomes in request order, each
// delivery's exact report sequence (NULs removed) with its TLS, reuse and
// DKIM signatures, the overall outcome and its HTTP status: 200 delivered,
// 422 failed, 503 + Retry-After deferred (retry), 207 mixed or uncertain (the
// final dot was sent and no reply came: the message may have been delivered,
// and a retry may duplicate it).

import QmailRemote

public enum Outcome: String, Sendable {
    case delivered, deferred, failed, uncertain, mixed

    /// What a report letter says of a recipient or of the message.
    init(_ letter: ReportLetter, possibleDuplicate: Bool = false) {
        switch letter {
        case .messageAccepted, .recipientAccepted: self = .delivered
        case .messageDeferred: self = possibleDuplicate ? .uncertain : .deferred
        case .recipientDeferred: self = .deferred
        case .messageFailed, .recipientRejected: self = .failed
        }
    }
}

public struct DeliveryAnswer: Sendable {
    public let outcome: Outcome
    public let recipientOutcomes: [Outcome]
    public let response: HTTPResponse

    /// Seconds a client should wait before retrying deferred recipients.
    static let retryAfterSeconds = 300

    /// `fields` go first in the answer: what the route adds (POST /v1/messages' "message_id").
    public init(recipients: [[UInt8]], results: [GroupResult], fields: [(String, JSONValue)] = []) {
        var perRecipient = [(outcome: Outcome, host: [UInt8], report: Report)?](repeating: nil, count: recipients.count)
        for result in results {
            let message = result.report.messageReport
            let messageOutcome = Outcome(message.letter, possibleDuplicate: result.report.possibleDuplicate)
            for (position, index) in result.recipientIndices.enumerated() {
                if position < result.report.recipientReports.count {
                    let report = result.report.recipientReports[position]
                    let outcome = report.letter == .recipientAccepted ? messageOutcome : Outcome(report.letter)
                    perRecipient[index] = (outcome, result.host, report)
                } else {
                    perRecipient[index] = (messageOutcome, result.host, message)
                }
            }
        }
        let rows = perRecipient.map { $0! }
        let outcomes = rows.map(\.outcome)
        let overall = outcomes.allSatisfy({ $0 == outcomes[0] }) ? outcomes[0] : .mixed

        let recipientsJSON = JSONValue.array(
            zip(recipients, rows).map { address, row in
                .object([
                    ("address", .text(address)), ("outcome", .string(row.outcome.rawValue)),
                    ("host", .text(row.host)), ("report", .string(String(row.report.letter.character))),
                    ("text", .text(row.report.text)),
                ])
            })
        let deliveriesJSON = JSONValue.array(
            results.map { result in
                let reports = result.report.recipientReports + [result.report.messageReport]
                let tls: JSONValue =
                    result.report.tls.map {
                        .object(
                            [
                                ("version", .string($0.version)), ("cipher", .string($0.cipher)),
                                ("verified", .bool($0.verified)), ("policy", .string($0.policy.rawValue)),
                            ] + ($0.matchedTLSA.map { [("tlsa", .string($0.presentation))] } ?? []))
                    } ?? .null
                return .object([
                    ("host", .text(result.host)),
                    ("recipients", .array(result.recipientIndices.map { .text(recipients[$0]) })),
                    (
                        "reports",
                        .array(
                            reports.map {
                                .object([("letter", .string(String($0.letter.character))), ("text", .text($0.text))])
                            })
                    ),
                    ("tls", tls),
                    ("reused", .bool(result.report.reused)),
                    ("possible_duplicate", .bool(result.report.possibleDuplicate)),
                    (
                        "dkim",
                        .array(
                            result.report.signatures.map {
                                .object([
                                    ("d", .string($0.domain)), ("s", .string($0.selector)),
                                    ("a", .string($0.algorithm)),
                                ])
                            })
                    ),
                ])
            })
        let body = JSONValue.object(
            fields + [
                ("outcome", .string(overall.rawValue)),
                ("possible_duplicate", .bool(outcomes.contains(.uncertain))),
                ("recipients", recipientsJSON),
                ("deliveries", deliveriesJSON),
            ])
        switch overall {
        case .delivered: response = .json(200, body)
        case .failed: response = .json(422, body)
        case .mixed, .uncertain: response = .json(207, body)
        case .deferred: response = .json(503, body, headers: [("Retry-After", String(Self.retryAfterSeconds))])
        }
        outcome = overall
        recipientOutcomes = outcomes
    }
}
