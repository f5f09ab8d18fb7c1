// Every write of the store goes through here: callers from any thread hand in
// a unit of work, and a writer thread of each write connection runs
// everything waiting in one transaction with one commit (one fsync), then
// hands every caller its result: a blocked caller is woken, an asynchronous
// one's completion runs on the writer (briefly: it must not block). So a
// thousand concurrent enqueues cost a few commits, no caller hears "done"
// before its commit returned, and a busy writer goes from one batch to the
// next without waiting for a caller to be scheduled. SQLite has one write
// connection; PostgreSQL a few, so that one batch runs while another waits
// for its fsync.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

final class GroupCommit: Sendable {
    private let queue: WriteQueue

    init(connections: [SQLConnection], batchLimit: Int = 256) {
        precondition(!connections.isEmpty)
        queue = WriteQueue(batchLimit: batchLimit)
        for connection in connections {
            let owned = WriterConnection(connection)
            queue.writerStarting()
            let started = Threads.start(stackSize: 1 << 20) { [queue] in queue.serve(owned) }
            precondition(started, "no thread for the store's writer")
        }
    }

    /// The writers finish what is waiting and close their connections before
    /// this returns (SQLite checkpoints its log into the file as the last
    /// connection closes).
    deinit { queue.stop() }

    /// Runs `work` inside a write transaction shared with other callers and
    /// returns once that transaction committed (or throws why it did not).
    /// `work` may run twice: if another write in its batch fails, each write is
    /// retried alone. It must do nothing but SQL on the connection it is given.
    func write<T: Sendable>(_ work: @escaping @Sendable (SQLConnection) throws(StoreError) -> T) throws(StoreError) -> T
    {
        try queue.submit(PendingWrite(work: work)) as! T
    }

    /// Runs statements whose results nobody reads: the writer may send those
    /// of several callers together (one round trip for PostgreSQL).
    func write(_ statements: [SQLStatement]) throws(StoreError) {
        _ = try queue.submit(PendingWrite(statements: statements))
    }

    /// As `write(_:)`, without waiting: `completion` gets the result on the
    /// writer's thread once the transaction committed (or failed).
    func writeAsync<T: Sendable>(
        _ work: @escaping @Sendable (SQLConnection) throws(StoreError) -> T,
        completion: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        queue.enqueue(PendingWrite(work: work) { result in completion(result.map { $0 as! T }) })
    }

    /// As `write(_ statements:)`, without waiting.
    func writeAsync(_ statements: [SQLStatement], completion: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        queue.enqueue(PendingWrite(statements: statements) { result in completion(result.map { _ in () }) })
    }
}

/// A connection handed to the thread that will be its only user.
private final class WriterConnection: @unchecked Sendable {
    // @unchecked: given to one writer thread at its start, used and closed by it alone.
    var connection: SQLConnection?
    init(_ connection: SQLConnection) { self.connection = connection }
}

/// The writes waiting for a writer, and the writers' loop.
private final class WriteQueue: @unchecked Sendable {
    // @unchecked: `pending`, `stopped`, `running` and `writers` are guarded
    // by `lock`; a write's `result` is set under it too.
    private let lock = Lock()
    private let arrived = Condition()
    private var pending: [PendingWrite] = []
    private var stopped = false
    /// Writer threads not yet ended, and the threads themselves.
    private var running = 0
    private var writers: [pthread_t] = []
    private let ended = Condition()
    /// Most writes in one transaction; the rest wait for the next.
    private let batchLimit: Int

    init(batchLimit: Int) { self.batchLimit = max(1, batchLimit) }

    func submit(_ write: PendingWrite) throws(StoreError) -> any Sendable {
        let result: Result<any Sendable, StoreError> = lock.withLock {
            pending.append(write)
            arrived.signal()
            while write.result == nil { lock.wait(on: write.wake) }
            return write.result!
        }
        return try result.get()
    }

    func enqueue(_ write: PendingWrite) {
        lock.withLock {
            pending.append(write)
            arrived.signal()
        }
    }

    func writerStarting() { lock.withLock { running += 1 } }

    /// Waits for the writers to end (but for the calling thread, should the
    /// store be let go by a completion running on a writer).
    func stop() {
        let me = pthread_self()
        lock.withLock {
            stopped = true
            arrived.broadcast()
            let own = writers.contains { pthread_equal($0, me) != 0 } ? 1 : 0
            while running > own { lock.wait(on: ended) }
        }
    }

    /// One writer: batches for as long as the store is open, then closes its connection.
    func serve(_ owned: WriterConnection) {
        lock.withLock { writers.append(pthread_self()) }
        if let connection = owned.connection { serve(connection) }
        owned.connection = nil
        lock.withLock {
            running -= 1
            ended.broadcast()
        }
    }

    private func serve(_ connection: SQLConnection) {
        while true {
            let batch: [PendingWrite] = lock.withLock {
                while pending.isEmpty && !stopped { lock.wait(on: arrived) }
                let batch = Array(pending.prefix(batchLimit))
                pending.removeFirst(batch.count)
                // More than one batch waiting: another writer may take the next.
                if !pending.isEmpty { arrived.signal() }
                return batch
            }
            if batch.isEmpty { return }
            let results = run(batch, on: connection)
            lock.withLock {
                for (write, result) in zip(batch, results) {
                    write.result = result
                    if write.completion == nil { write.wake.signal() }
                }
            }
            for (write, result) in zip(batch, results) { write.completion?(result) }
        }
    }

    /// Runs a batch as one transaction. If a write fails for a reason of its
    /// own (not the engine or the disk), each write is run alone so that one
    /// bad write fails only itself.
    private func run(_ batch: [PendingWrite], on connection: SQLConnection) -> [Result<any Sendable, StoreError>] {
        let results = transaction(batch, on: connection)
        guard batch.count > 1, case .failure(let error)? = results.first, case .failed = error else { return results }
        return batch.map { transaction([$0], on: connection)[0] }
    }

    /// A PostgreSQL session that ended while idle (a restart, an
    /// administrator, a failover) fails its BEGIN, and nothing was sent: it is
    /// re-made once at once, so that each writer's first batch after a cut is
    /// not lost for nothing.
    private static func begin(_ connection: SQLConnection) throws(StoreError) {
        do {
            try connection.beginWrite()
        } catch {
            guard case .unavailable = error, connection.engine == .postgresql else { throw error }
            try connection.beginWrite()
        }
    }

    /// Every write's value when committed; else the error for all of them.
    private func transaction(
        _ batch: [PendingWrite], on connection: SQLConnection
    ) -> [Result<any Sendable, StoreError>] {
        var values: [any Sendable] = []
        do throws(StoreError) {
            try Self.begin(connection)
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
    // @unchecked: `result` is written and read under the queue's lock only.
    /// Either work that reads results, or statements that need none.
    let work: (@Sendable (SQLConnection) throws(StoreError) -> any Sendable)?
    let statements: [SQLStatement]
    /// Asynchronous writes: called with the result on the writer's thread.
    let completion: (@Sendable (Result<any Sendable, StoreError>) -> Void)?
    var result: Result<any Sendable, StoreError>?
    let wake = Condition()

    init(
        work: @escaping @Sendable (SQLConnection) throws(StoreError) -> any Sendable,
        completion: (@Sendable (Result<any Sendable, StoreError>) -> Void)? = nil
    ) {
        self.work = work
        statements = []
        self.completion = completion
    }

    init(statements: [SQLStatement], completion: (@Sendable (Result<any Sendable, StoreError>) -> Void)? = nil) {
        work = nil
        self.statements = statements
        self.completion = completion
    }
}
