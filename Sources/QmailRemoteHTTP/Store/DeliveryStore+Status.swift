// Reading the queue: one delivery's status (only within its scope: another
// token's delivery is not found), the gauges and counters for /metrics, when
// a worker should next look, and removing finished deliveries (and their
// body files) after the retention period.

#if canImport(Glibc)
import Glibc
#endif

extension DeliveryStore {
    /// nil for an unknown id or one queued under another scope.
    public func status(id: String, scope: StoreScope, now: Int64) throws(StoreError) -> DeliveryStatus? {
        try reads.read { connection throws(StoreError) in
            guard
                let delivery = try connection.execute(
                    "SELECT sender, host, queued_at, finished_at FROM deliveries WHERE id = $1 AND scope = $2",
                    .text(id), .blob(scope.bytes)
                ).first
            else { return nil }
            let rows = try connection.execute(
                """
                SELECT r.address, r.host, r.state, r.attempts, r.possible_duplicate, r.letter, r.text,
                    j.next_attempt_at, j.lease_until
                FROM recipients r JOIN jobs j ON j.delivery_id = r.delivery_id AND j.host = r.host
                WHERE r.delivery_id = $1 ORDER BY r.position
                """, .text(id))
            var running = false
            let recipients = rows.map { row in
                let outcome: RecipientStatus.Outcome
                switch row[2].integer {
                case 0: outcome = .pending
                case 1: outcome = .deferred
                case 2: outcome = .delivered
                default: outcome = .failed
                }
                let open = outcome == .pending || outcome == .deferred
                if open, let until = row[8].integer, until > now { running = true }
                return RecipientStatus(
                    address: row[0].bytes!, host: row[1].bytes!, outcome: outcome, attempts: row[3].integer!,
                    nextAttemptAt: open ? row[7].integer : nil, possibleDuplicate: row[4].integer == 1,
                    report: row[5].text.flatMap { letter in
                        letter.first.map { ReportEntry(letter: $0, text: row[6].bytes ?? []) }
                    })
            }
            let attempts = try connection.execute(
                """
                SELECT host, number, started_at, finished_at, outcome, reports FROM attempts
                WHERE delivery_id = $1 ORDER BY started_at, number
                """, .text(id)
            ).map { row in
                AttemptStatus(
                    host: row[0].bytes!, number: row[1].integer!, startedAt: row[2].integer!,
                    finishedAt: row[3].integer, outcome: row[4].text.flatMap(AttemptOutcome.init(rawValue:)),
                    reports: ReportEntry.decode(row[5].bytes ?? []))
            }
            return DeliveryStatus(
                id: id, state: DeliveryStatus.State(recipients: recipients.map(\.outcome), running: running),
                sender: delivery[0].bytes!, host: delivery[1].bytes, queuedAt: delivery[2].integer!,
                finishedAt: delivery[3].integer, recipients: recipients, attempts: attempts)
        }
    }

    public func queueMetrics(now: Int64) throws(StoreError) -> QueueMetrics {
        try reads.read { connection throws(StoreError) in
            let deliveries = try connection.execute(
                "SELECT COUNT(*), MIN(queued_at) FROM deliveries WHERE finished_at IS NULL")[0]
            let recipients = try connection.execute(
                """
                SELECT COUNT(*) FROM deliveries d JOIN recipients r ON r.delivery_id = d.id
                WHERE d.finished_at IS NULL AND r.state < 2
                """)[0]
            var attempts: [AttemptOutcome: Int64] = [:]
            for outcome in AttemptOutcome.allCases { attempts[outcome] = 0 }
            for row in try connection.execute("SELECT name, CAST(SUM(value) AS BIGINT) FROM counters GROUP BY name") {
                guard let name = row[0].text, name.hasPrefix("attempts_"),
                    let outcome = AttemptOutcome(rawValue: String(name.dropFirst("attempts_".count)))
                else { continue }
                attempts[outcome] = row[1].integer
            }
            return QueueMetrics(
                queuedDeliveries: deliveries[0].integer ?? 0, queuedRecipients: recipients[0].integer ?? 0,
                oldestQueuedAge: deliveries[1].integer.map { max(0, now - $0) } ?? 0, attemptsByOutcome: attempts)
        }
    }

    /// When the next job becomes claimable (due, and its lease, if any, over);
    /// nil when the queue is empty. Workers sleep until then (or a new enqueue).
    public func nextClaimableAt() throws(StoreError) -> Int64? {
        try reads.read { connection throws(StoreError) in
            try connection.execute(
                """
                SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at
                    THEN lease_until ELSE next_attempt_at END) FROM jobs WHERE done = 0
                """
            ).first?.first?.integer
        }
    }

    /// Removes up to `limit` deliveries finished before `cutoff`, with their
    /// recipients, attempts and body files; returns how many.
    @discardableResult
    public func removeFinishedDeliveries(finishedBefore cutoff: Int64, limit: Int = 500) throws(StoreError) -> Int {
        let files = try writes.write { connection throws(StoreError) in
            let rows = try connection.execute(
                "SELECT id, message_file FROM deliveries WHERE finished_at IS NOT NULL AND finished_at < $1 LIMIT $2",
                .integer(cutoff), .integer(Int64(limit)))
            for row in rows { _ = try connection.execute("DELETE FROM deliveries WHERE id = $1", row[0]) }
            return rows.map { $0[1].text }
        }
        // After the commit: a crash before this leaves files the next open sweeps.
        for case let name? in files { bodies?.remove(name) }
        return files.count
    }
}
