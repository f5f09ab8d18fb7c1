// The gateway's durable state, on SQLite or PostgreSQL: idempotency keys and
// the delivery queue. Threads: every write goes through one GroupCommit on
// one connection (concurrent writers share a transaction and its fsync);
// reads (status, metrics) use a second connection under its own lock. Every
// method blocks; call it off libmicrohttpd's threads where that matters.

#if canImport(Glibc)
import QmailSupport
import Glibc
#endif

public struct StoreOptions: Sendable {
    /// SQLite: bodies up to this size live in the row, larger in a file beside it.
    public var inlineBodyLimit = 262_144
    /// SQLite: how long a statement waits for a lock before `unavailable`.
    public var busyTimeoutMilliseconds: Int32 = 5000
    /// Most writes sharing one transaction.
    public var batchLimit = 256
    /// PostgreSQL: write connections, each with a batch of its own in flight.
    public var postgresWriters = 3

    public init() {}
}

public final class DeliveryStore: Sendable {
    public let url: StoreURL
    let engine: SQLEngine
    let writes: GroupCommit
    let reads: ReadConnection
    let bodies: BodyFiles?
    let inlineBodyLimit: Int
    private let ownership: FileOwnership?

    private init(
        url: StoreURL, engine: SQLEngine, writes: GroupCommit, reads: ReadConnection, bodies: BodyFiles?,
        inlineBodyLimit: Int, ownership: FileOwnership?
    ) {
        self.url = url
        self.engine = engine
        self.writes = writes
        self.reads = reads
        self.bodies = bodies
        self.inlineBodyLimit = inlineBodyLimit
        self.ownership = ownership
    }

    /// Opens (creating and migrating as needed) the store at `url`.
    public static func open(
        _ url: StoreURL, options: StoreOptions = StoreOptions()
    ) throws(StoreOpenError)
        -> DeliveryStore
    {
        do throws(StoreError) {
            switch url {
            case .sqlite(let path):
                let ownership = try FileOwnership(lockPath: path + ".lock")
                let writer = try SQLiteConnection(path: path, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds)
                try Schema.migrate(writer)
                let reader = try SQLiteConnection(path: path, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds)
                let bodies = try BodyFiles(databasePath: path)
                let store = DeliveryStore(
                    url: url, engine: .sqlite,
                    writes: GroupCommit(connections: [writer], batchLimit: options.batchLimit),
                    reads: ReadConnection(reader), bodies: bodies, inlineBodyLimit: options.inlineBodyLimit,
                    ownership: ownership)
                try store.recoverAfterRestart()
                return store
            case .postgresql(let text):
                let writer = try PostgresConnection(url: text)
                try Schema.migrate(writer)
                var writers: [SQLConnection] = [writer]
                for _ in 1..<max(1, options.postgresWriters) { writers.append(try PostgresConnection(url: text)) }
                let reader = try PostgresConnection(url: text)
                return DeliveryStore(
                    url: url, engine: .postgresql,
                    writes: GroupCommit(connections: writers, batchLimit: options.batchLimit),
                    reads: ReadConnection(reader), bodies: nil, inlineBodyLimit: Int.max, ownership: nil)
            }
        } catch {
            throw StoreOpenError(url: url, reason: error)
        }
    }

    /// The schema version the database is at.
    public func schemaVersion() throws(StoreError) -> Int64 {
        try reads.read { connection throws(StoreError) in try Schema.version(connection) }
    }

    /// SQLite: the engine's integrity check, nil when the file is sound.
    /// PostgreSQL checks its own pages; nil.
    public func checkIntegrity() throws(StoreError) -> String? {
        guard engine == .sqlite else { return nil }
        return try reads.read { connection throws(StoreError) in
            let rows = try connection.execute("PRAGMA integrity_check")
            let lines = rows.compactMap { $0.first?.text }
            return lines == ["ok"] ? nil : lines.joined(separator: "; ")
        }
    }

    /// SQLite only: this process owns the file, so whatever a previous process
    /// left in progress is dead. Keys in progress become usable again; leased
    /// jobs become claimable now (their attempts are judged by the final-dot
    /// mark at the claim); body files no row names are removed; the counter
    /// shards of earlier connections are folded into one row per name.
    private func recoverAfterRestart() throws(StoreError) {
        let files = try writes.write { connection throws(StoreError) in
            _ = try connection.execute("DELETE FROM idempotency_keys WHERE answered = 0")
            _ = try connection.execute("UPDATE jobs SET lease_until = 0 WHERE lease_until IS NOT NULL")
            let sums = try connection.execute("SELECT name, CAST(SUM(value) AS BIGINT) FROM counters GROUP BY name")
            _ = try connection.execute("DELETE FROM counters")
            for sum in sums {
                _ = try connection.execute("INSERT INTO counters (name, shard, value) VALUES ($1, 0, $2)", sum)
            }
            return try connection.execute("SELECT message_file FROM deliveries WHERE message_file IS NOT NULL")
                .compactMap { $0[0].text }
        }
        guard let bodies else { return }
        let named = Set(files)
        for name in bodies.names() where !named.contains(name) { bodies.remove(name) }
    }
}

/// The read connection and the lock that gives it to one thread at a time.
final class ReadConnection: @unchecked Sendable {
    // @unchecked: `connection` is used only inside `lock`.
    private let lock = Lock()
    private let connection: SQLConnection

    init(_ connection: SQLConnection) { self.connection = connection }

    /// Runs `body` in one read transaction (one consistent snapshot).
    func read<T>(_ body: (SQLConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        let result: Result<T, StoreError> = lock.withLock {
            do throws(StoreError) {
                try connection.beginRead()
                let value = try body(connection)
                connection.rollback()
                return .success(value)
            } catch {
                connection.rollback()
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// An exclusive flock on `PATH.lock` for as long as the store is open: one
/// gateway per SQLite file (a second one fails to open, naming the file).
final class FileOwnership: Sendable {
    private let fd: Int32

    init(lockPath: String) throws(StoreError) {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BodyFiles.error("cannot create \(lockPath)", errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw .inUse(lockPath) }
            throw BodyFiles.error("cannot lock \(lockPath)", code)
        }
        self.fd = fd
    }

    deinit { close(fd) }
}
