// Every write of the store goes through here: callers from any thread hand in
// a unit of work and wait; a caller that finds a write connection free (the
// leader) runs everything waiting in one transaction with one commit (one
// fsync), then wakes them all with their results. So a thousand concurrent
// enqueues cost a few commits, and no caller hears "done" before its commit
// returned. SQLite has one write connection; PostgreSQL a few, so that one
// batch runs while another waits for its fsync.

import QmailSupport

final class GroupCommit: @unchecked Sendable {
    // @unchecked: `pending` and `idle` are guarded by `lock`; a connection
    // taken from `idle` is used by its leader alone until it is put back.
    private let lock = Lock()
    private var pending: [PendingWrite] = []
    private var idle: [SQLConnection]
    /// Most writes in one transaction; the rest wait for the next.
    private let batchLimit: Int

    init(connections: [SQLConnection], batchLimit: Int = 256) {
        precondition(!connections.isEmpty)
        idle = connections
        self.batchLimit = batchLimit
    }

    /// Runs `work` inside a write transaction shared with other callers and
    /// returns once that transaction committed (or throws why it did not).
    /// `work` may run twice: if another write in its batch fails, each write is
    /// retried alone. It must do nothing but SQL on the connection it is given.
    func write<T: Sendable>(_ work: @escaping @Sendable (SQLConnection) throws(StoreError) -> T) throws(StoreError) -> T
    {
        try submit(PendingWrite(work: work)) as! T
    }

    /// Runs statements whose results nobody reads: the leader may send those
    /// of several callers together (one round trip for PostgreSQL).
    func write(_ statements: [SQLStatement]) throws(StoreError) {
        _ = try submit(PendingWrite(statements: statements))
    }

    private func submit(_ write: PendingWrite) throws(StoreError) -> any Sendable {
        lock.withLock { pending.append(write) }
        while true {
            let taken: (SQLConnection, [PendingWrite])? = lock.withLock {
                while write.result == nil && (idle.isEmpty || !pending.contains { $0 === write }) {
                    lock.wait(on: write.wake)
                }
                if write.result != nil { return nil }
                let batch = Array(pending.prefix(batchLimit))
                pending.removeFirst(batch.count)
                return (idle.removeLast(), batch)
            }
            guard let (connection, batch) = taken else { break }
            let results = run(batch, on: connection)
            lock.withLock {
                for (done, result) in zip(batch, results) { done.result = result }
                idle.append(connection)
                for done in batch where done !== write { done.wake.signal() }
                // Hand the lead to the next waiter, if any.
                pending.first?.wake.signal()
            }
        }
        return try write.result!.get()
    }

    /// Runs a batch as one transaction. If a write fails for a reason of its
    /// own (not the engine or the disk), each write is run alone so that one
    /// bad write fails only itself.
    private func run(_ batch: [PendingWrite], on connection: SQLConnection) -> [Result<any Sendable, StoreError>] {
        let results = transaction(batch, on: connection)
        guard batch.count > 1, case .failure(let error)? = results.first, case .failed = error else { return results }
        return batch.map { transaction([$0], on: connection)[0] }
    }

    /// Every write's value when committed; else the error for all of them.
    private func transaction(
        _ batch: [PendingWrite], on connection: SQLConnection
    ) -> [Result<any Sendable, StoreError>] {
        var values: [any Sendable] = []
        do throws(StoreError) {
            try connection.beginWrite()
            var statements: [SQLStatement] = []
            for write in batch {
                if let work = write.work {
                    try connection.executeAll(statements)
                    statements = []
                    values.append(try work(connection))
                } else {
                    statements += write.statements
                    values.append(())
                }
            }
            try connection.executeAll(statements)
            try connection.commit()
        } catch {
            connection.rollback()
            return batch.map { _ in .failure(error) }
        }
        return values.map { .success($0) }
    }
}

private final class PendingWrite: @unchecked Sendable {
    // @unchecked: `result` is written and read under the group's lock only.
    /// Either work that reads results, or statements that need none.
    let work: (@Sendable (SQLConnection) throws(StoreError) -> any Sendable)?
    let statements: [SQLStatement]
    var result: Result<any Sendable, StoreError>?
    let wake = Condition()

    init(work: @escaping @Sendable (SQLConnection) throws(StoreError) -> any Sendable) {
        self.work = work
        statements = []
    }

    init(statements: [SQLStatement]) {
        work = nil
        self.statements = statements
    }
}
