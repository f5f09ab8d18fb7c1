// Leases of a worker that holds several jobs: renewing them all in one
// transaction (jobs waiting for a delivery thread keep theirs too), and
// giving a job back untried (a drain, a full delivery pool) so that it is
// claimable at once, as if this attempt had never started.

extension DeliveryStore {
    /// Extends every lease still held; for each job, whether it was (false: lost).
    public func renewLeases(_ jobs: [ClaimedJob], leaseSeconds: Int64, now: Int64) throws(StoreError) -> [Bool] {
        guard !jobs.isEmpty else { return [] }
        return try writes.write { connection throws(StoreError) in
            var held: [Bool] = []
            for job in jobs {
                _ = try connection.execute(
                    """
                    UPDATE jobs SET lease_until = $5
                    WHERE delivery_id = $1 AND host = $2 AND lease_owner = $3 AND lease_attempt = $4
                    """, .text(job.deliveryID), .blob(job.host), .text(job.worker), .integer(job.attempt),
                    .integer(now + leaseSeconds))
                held.append(connection.changes == 1)
            }
            return held
        }
    }

    /// Gives back a job whose attempt never wrote its final dot: the attempt is
    /// forgotten and the job is due again now. False when the lease was lost or
    /// the dot was marked (then the lease runs out and the claim judges it).
    @discardableResult
    public func release(_ job: ClaimedJob) throws(StoreError) -> Bool {
        try writes.write { connection throws(StoreError) in
            let key: [SQLValue] = [.text(job.deliveryID), .blob(job.host), .integer(job.attempt)]
            _ = try connection.execute(
                """
                UPDATE jobs SET lease_owner = NULL, lease_until = NULL, lease_attempt = NULL
                WHERE delivery_id = $1 AND host = $2 AND lease_attempt = $3 AND lease_owner = $4 AND dot_marked = 0
                """, key + [.text(job.worker)])
            guard connection.changes == 1 else { return false }
            _ = try connection.execute(
                "DELETE FROM attempts WHERE delivery_id = $1 AND host = $2 AND number = $3", key)
            return true
        }
    }
}
