// Working the queue: claim due jobs under a lease (PostgreSQL: FOR UPDATE
// SKIP LOCKED, so replicas never claim the same job), keep the lease, mark
// the final dot before writing it, and record what the attempt gave. A job
// whose lease ran out is anyone's: if its attempt had marked the dot, the
// recipients are flagged as possible duplicates; if not, it is retried as if
// it had never started.

import QmailRemote
import QmailSupport

extension DeliveryStore {
    /// Claims up to `limit` due jobs for `worker` for `leaseSeconds`.
    public func claimDueJobs(
        worker: String, limit: Int, leaseSeconds: Int64, now: Int64
    ) throws(StoreError)
        -> [ClaimedJob]
    {
        let engine = self.engine
        let bodies = self.bodies
        return try writes.write { connection throws(StoreError) in
            let due = try connection.execute(
                """
                SELECT delivery_id, host, attempts, dot_marked, lease_attempt FROM jobs
                WHERE done = 0 AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                ORDER BY next_attempt_at LIMIT $2
                """ + engine.skipLocked, .integer(now), .integer(Int64(limit)))
            var claimed: [ClaimedJob] = []
            for row in due {
                let id = row[0]
                let host = row[1]
                var attempts = row[2].integer!
                if let interrupted = row[4].integer {
                    if row[3].integer == 1 {
                        try Self.closeInterrupted(connection, id, host, number: interrupted, now: now)
                        attempts += 1
                    } else {
                        _ = try connection.execute(
                            "DELETE FROM attempts WHERE delivery_id = $1 AND host = $2 AND number = $3", id, host,
                            .integer(interrupted))
                    }
                }
                let recipients = try connection.execute(
                    """
                    SELECT position, address, possible_duplicate FROM recipients
                    WHERE delivery_id = $1 AND host = $2 AND state < 2 ORDER BY position
                    """, id, host)
                if recipients.isEmpty {
                    _ = try connection.execute(
                        "UPDATE jobs SET done = 1, attempts = $3, lease_owner = NULL, lease_until = NULL, lease_attempt = NULL, dot_marked = 0 WHERE delivery_id = $1 AND host = $2",
                        id, host, .integer(attempts))
                    continue
                }
                let number = attempts + 1
                // Each claim is its own owner: a worker that claims again a job
                // whose lease ran out under it (a reclaim keeps the attempt's
                // number while no dot was marked) must not find its first claim
                // still able to mark the dot.
                let owner = "\(worker)#\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
                _ = try connection.execute(
                    """
                    UPDATE jobs SET attempts = $3, lease_owner = $4, lease_until = $5, lease_attempt = $6, dot_marked = 0
                    WHERE delivery_id = $1 AND host = $2
                    """, id, host, .integer(attempts), .text(owner), .integer(now + leaseSeconds), .integer(number))
                _ = try connection.execute(
                    "INSERT INTO attempts (delivery_id, host, number, worker, started_at) VALUES ($1, $2, $3, $4, $5)",
                    id, host, .integer(number), .text(owner), .integer(now))
                guard
                    let delivery = try connection.execute(
                        "SELECT sender, queued_at, message, message_file FROM deliveries WHERE id = $1", id
                    ).first
                else { continue }
                let body: StoredBody
                if let name = delivery[3].text, let bodies {
                    body = .file(path: bodies.path(name))
                } else {
                    body = .inline(delivery[2].bytes ?? [])
                }
                claimed.append(
                    ClaimedJob(
                        deliveryID: id.text!, host: host.bytes!, sender: delivery[0].bytes!,
                        queuedAt: delivery[1].integer!, attempt: number, startedAt: now,
                        recipients: recipients.map {
                            ClaimedRecipient(position: Int($0[0].integer!), address: $0[1].bytes!)
                        },
                        message: body, worker: owner, possibleDuplicate: recipients.contains { $0[2].integer == 1 }))
            }
            return claimed
        }
    }

    /// An attempt that marked the final dot and never reported: flag its
    /// recipients, count it, and close it as interrupted.
    private static func closeInterrupted(
        _ connection: SQLConnection, _ id: SQLValue, _ host: SQLValue, number: Int64, now: Int64
    ) throws(StoreError) {
        _ = try connection.execute(
            """
            UPDATE recipients SET possible_duplicate = 1, attempts = attempts + 1
            WHERE delivery_id = $1 AND host = $2 AND state < 2
            """, id, host)
        _ = try connection.execute(
            "UPDATE attempts SET finished_at = $4, outcome = $5 WHERE delivery_id = $1 AND host = $2 AND number = $3",
            id, host, .integer(number), .integer(now), .text(AttemptOutcome.interrupted.rawValue))
        try count(connection, .interrupted)
    }

    /// Extends the lease of a running attempt; false if it was lost.
    public func renewLease(_ job: ClaimedJob, leaseSeconds: Int64, now: Int64) throws(StoreError) -> Bool {
        try writes.write { connection throws(StoreError) in
            _ = try connection.execute(
                """
                UPDATE jobs SET lease_until = $5
                WHERE delivery_id = $1 AND host = $2 AND lease_owner = $3 AND lease_attempt = $4
                """, .text(job.deliveryID), .blob(job.host), .text(job.worker), .integer(job.attempt),
                .integer(now + leaseSeconds))
            return connection.changes == 1
        }
    }

    /// Records, durably, that the final dot is about to be written, and extends
    /// the lease to cover waiting for the answer. Write the dot only on true:
    /// false means another worker has taken the job.
    public func markFinalDot(_ job: ClaimedJob, leaseSeconds: Int64, now: Int64) throws(StoreError) -> Bool {
        try writes.write { connection throws(StoreError) in
            let key: [SQLValue] = [.text(job.deliveryID), .blob(job.host), .integer(job.attempt)]
            _ = try connection.execute(
                """
                UPDATE jobs SET dot_marked = 1, lease_until = $5
                WHERE delivery_id = $1 AND host = $2 AND lease_attempt = $3 AND lease_owner = $4
                """, key + [.text(job.worker), .integer(now + leaseSeconds)])
            guard connection.changes == 1 else { return false }
            _ = try connection.execute(
                "UPDATE attempts SET dot_at = $4 WHERE delivery_id = $1 AND host = $2 AND number = $3",
                key + [.integer(now)])
            return true
        }
    }

    /// Records the attempt's report: each recipient delivered, failed or
    /// deferred (retried per `schedule`; failed with qmail's text once the
    /// queue lifetime has passed), and the report sequence as the command
    /// would print it.
    public func recordAttempt(
        _ job: ClaimedJob, report: DeliveryReport, schedule: RetrySchedule, now: Int64
    )
        throws(StoreError) -> AttemptRecording
    {
        try writes.write(Self.recording(job, AttemptResults(job: job, report: report, schedule: schedule), now: now))
    }

    /// As `recordAttempt`, without waiting: `done` gets the result on the
    /// store's writer thread (keep it short).
    public func recordAttemptAsync(
        _ job: ClaimedJob, report: DeliveryReport, schedule: RetrySchedule, now: Int64,
        done: @escaping @Sendable (Result<AttemptRecording, StoreError>) -> Void
    ) {
        writes.writeAsync(
            Self.recording(job, AttemptResults(job: job, report: report, schedule: schedule), now: now),
            completion: done)
    }

    /// The transaction's work for one attempt's results.
    private static func recording(
        _ job: ClaimedJob, _ results: AttemptResults, now: Int64
    ) -> @Sendable (SQLConnection) throws(StoreError) -> AttemptRecording {
        { connection throws(StoreError) in
            let id = SQLValue.text(job.deliveryID)
            let host = SQLValue.blob(job.host)
            _ = try connection.execute(
                """
                UPDATE jobs SET done = $5, next_attempt_at = $6, attempts = $4, lease_owner = NULL,
                    lease_until = NULL, lease_attempt = NULL, dot_marked = 0
                WHERE delivery_id = $1 AND host = $2 AND lease_owner = $3 AND lease_attempt = $4
                """, id, host, .text(job.worker), .integer(job.attempt), .integer(results.jobDone ? 1 : 0),
                .integer(results.nextAttemptAt ?? now))
            guard connection.changes == 1 else { return AttemptRecording.leaseLost }
            for recipient in results.recipients {
                _ = try connection.execute(
                    """
                    UPDATE recipients SET state = $3, attempts = attempts + 1, letter = $4, text = $5,
                        possible_duplicate = CASE WHEN $6 = 1 THEN 1 ELSE possible_duplicate END
                    WHERE delivery_id = $1 AND position = $2
                    """, id, .integer(Int64(recipient.position)), .integer(recipient.state.rawValue),
                    .text(String(recipient.report.letter)), .blob(recipient.report.text),
                    .integer(recipient.possibleDuplicate ? 1 : 0))
            }
            _ = try connection.execute(
                """
                UPDATE attempts SET finished_at = $4, outcome = $5, reports = $6
                WHERE delivery_id = $1 AND host = $2 AND number = $3
                """, id, host, .integer(job.attempt), .integer(now), .text(results.outcome.rawValue),
                .blob(ReportEntry.encode(results.reports)))
            let open = try connection.execute(
                "SELECT COUNT(*) FROM recipients WHERE delivery_id = $1 AND state < 2", id
            ).first?.first?.integer
            if open == 0 {
                _ = try connection.execute(
                    "UPDATE deliveries SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL", id, .integer(now))
            }
            try Self.count(connection, results.outcome)
            return .recorded(results.outcome)
        }
    }

    /// Counts into rows of this connection's own (its shard): no other
    /// transaction, of this replica or another, ever waits for them or
    /// deadlocks on them. Readers add the shards up.
    static func count(_ connection: SQLConnection, _ outcome: AttemptOutcome) throws(StoreError) {
        _ = try connection.execute(
            """
            INSERT INTO counters (name, shard, value) VALUES ($1, $2, 1)
            ON CONFLICT (name, shard) DO UPDATE SET value = counters.value + 1
            """, .text("attempts_" + outcome.rawValue), .integer(connection.counterShard))
    }
}
