// The queue's answers as JSON: 202 for a delivery just queued, and a queued
// delivery's status for GET /v1/deliveries/{id} (its state, each recipient's
// outcome and schedule, every attempt's report sequence in the format of the
// synchronous answer). Times are RFC 3339 in UTC. No store access here.

enum StatusAnswer {
    /// 202: committed to the queue; where to ask for its status. `fields` go
    /// first: what the route adds (POST /v1/messages' "message_id").
    static func accepted(id: String, fields: [(String, JSONValue)] = []) -> HTTPResponse {
        .json(
            202,
            .object(fields + [("id", .string(id)), ("status", .string(DeliveryStatus.State.queued.rawValue))]),
            headers: [
                ("Location", GatewayEndpoint.deliveryPathPrefix + id), ("Preference-Applied", "respond-async"),
            ])
    }

    static func response(_ status: DeliveryStatus) -> HTTPResponse {
        let recipients = JSONValue.array(
            status.recipients.map { recipient in
                .object([
                    ("address", .text(recipient.address)), ("host", .text(recipient.host)),
                    ("outcome", .string(recipient.outcome.rawValue)), ("attempts", .number(Int(recipient.attempts))),
                    ("next_attempt_at", time(recipient.nextAttemptAt)),
                    ("possible_duplicate", .bool(recipient.possibleDuplicate)),
                    ("report", recipient.report.map { .string(String($0.letter)) } ?? .null),
                    ("text", recipient.report.map { .text($0.text) } ?? .null),
                ])
            })
        let attempts = JSONValue.array(
            status.attempts.map { attempt in
                .object([
                    ("host", .text(attempt.host)), ("number", .number(Int(attempt.number))),
                    ("started_at", time(attempt.startedAt)), ("finished_at", time(attempt.finishedAt)),
                    ("outcome", attempt.outcome.map { .string($0.rawValue) } ?? .null),
                    (
                        "reports",
                        .array(
                            attempt.reports.map {
                                .object([("letter", .string(String($0.letter))), ("text", .text($0.text))])
                            })
                    ),
                ])
            })
        return .json(
            200,
            .object([
                ("id", .string(status.id)), ("status", .string(status.state.rawValue)),
                ("sender", .text(status.sender)), ("host", status.host.map { .text($0) } ?? .null),
                ("queued_at", time(status.queuedAt)), ("finished_at", time(status.finishedAt)),
                ("possible_duplicate", .bool(status.recipients.contains { $0.possibleDuplicate })),
                ("recipients", recipients), ("attempts", attempts),
            ]))
    }

    private static func time(_ seconds: Int64?) -> JSONValue {
        seconds.map { .string(rfc3339($0)) } ?? .null
    }

    /// Seconds since the epoch as `2024-05-01T12:00:00Z` (the proleptic
    /// Gregorian calendar, as civil-from-days computes it).
    static func rfc3339(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let second = seconds - days * 86400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return
            "\(yearText)-\(two(month))-\(two(day))T\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60))Z"
    }
}
