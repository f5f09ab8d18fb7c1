// The store's tables, versioned: `schema_version` holds the version reached,
// and each migration runs once, in order, in its own transaction (PostgreSQL:
// under an advisory lock, so replicas starting together migrate once). Add a
// migration by appending to `migrations`; never edit a released one.

enum Schema {
    /// (version, SQL) in order; the SQL is written once with the engine's types.
    static func migrations(for engine: SQLEngine) -> [(version: Int64, sql: String)] {
        let blob = engine.blob
        let int = engine.integer
        // SQLite: tables keyed by their primary key alone, one B-tree instead of two.
        let keyed = engine == .sqlite ? " WITHOUT ROWID" : ""
        return [
            (
                1,
                """
                CREATE TABLE idempotency_keys (
                    scope \(blob) NOT NULL,
                    key TEXT NOT NULL,
                    fingerprint \(blob) NOT NULL,
                    answered \(int) NOT NULL,
                    started_at \(int) NOT NULL,
                    expires_at \(int) NOT NULL,
                    status \(int),
                    headers \(blob),
                    body \(blob),
                    PRIMARY KEY (scope, key)
                )\(keyed);
                CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
                CREATE TABLE deliveries (
                    id TEXT PRIMARY KEY,
                    scope \(blob) NOT NULL,
                    sender \(blob) NOT NULL,
                    host \(blob),
                    queued_at \(int) NOT NULL,
                    message \(blob),
                    message_file TEXT,
                    message_size \(int) NOT NULL,
                    finished_at \(int)
                );
                CREATE INDEX deliveries_unfinished ON deliveries (queued_at) WHERE finished_at IS NULL;
                CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE finished_at IS NOT NULL;
                CREATE TABLE jobs (
                    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
                    host \(blob) NOT NULL,
                    done \(int) NOT NULL,
                    attempts \(int) NOT NULL,
                    next_attempt_at \(int) NOT NULL,
                    lease_owner TEXT,
                    lease_until \(int),
                    lease_attempt \(int),
                    dot_marked \(int) NOT NULL,
                    PRIMARY KEY (delivery_id, host)
                )\(keyed);
                CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE done = 0;
                CREATE TABLE recipients (
                    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
                    position \(int) NOT NULL,
                    address \(blob) NOT NULL,
                    host \(blob) NOT NULL,
                    state \(int) NOT NULL,
                    attempts \(int) NOT NULL,
                    possible_duplicate \(int) NOT NULL,
                    letter TEXT,
                    text \(blob),
                    PRIMARY KEY (delivery_id, position)
                )\(keyed);
                CREATE TABLE attempts (
                    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
                    host \(blob) NOT NULL,
                    number \(int) NOT NULL,
                    worker TEXT NOT NULL,
                    started_at \(int) NOT NULL,
                    dot_at \(int),
                    finished_at \(int),
                    outcome TEXT,
                    reports \(blob),
                    PRIMARY KEY (delivery_id, host, number)
                )\(keyed);
                CREATE TABLE counters (
                    name TEXT NOT NULL,
                    shard \(int) NOT NULL,
                    value \(int) NOT NULL,
                    PRIMARY KEY (name, shard)
                )\(keyed);
                """
            )
        ]
    }

    static func latestVersion(for engine: SQLEngine) -> Int64 { migrations(for: engine).last!.version }

    /// Brings the database to the latest version; throws if it is newer.
    static func migrate(_ connection: SQLConnection) throws(StoreError) {
        let engine = connection.engine
        for migration in migrations(for: engine) {
            try connection.beginWrite()
            do throws(StoreError) {
                if engine == .postgresql {
                    // One lock id for this schema: replicas starting together wait here.
                    _ = try connection.execute("SELECT pg_advisory_xact_lock(7112026)", [])
                }
                try connection.executeScript(
                    "CREATE TABLE IF NOT EXISTS schema_version (version \(engine.integer) NOT NULL)")
                let current =
                    try connection.execute("SELECT MAX(version) FROM schema_version", [])
                    .first?.first?.integer ?? 0
                let latest = latestVersion(for: engine)
                if current > latest { throw StoreError.schemaTooNew(found: current, known: latest) }
                if current < migration.version {
                    try connection.executeScript(migration.sql)
                    _ = try connection.execute(
                        "INSERT INTO schema_version (version) VALUES ($1)", [.integer(migration.version)])
                }
                try connection.commit()
            } catch {
                connection.rollback()
                throw error
            }
        }
    }

    static func version(_ connection: SQLConnection) throws(StoreError) -> Int64 {
        try connection.execute("SELECT MAX(version) FROM schema_version", []).first?.first?.integer ?? 0
    }
}
