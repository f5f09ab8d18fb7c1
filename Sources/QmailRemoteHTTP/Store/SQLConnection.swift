// What the store needs from an engine connection: statements with `$1`-style
// parameters, scripts for migrations, and explicit transactions. SQLite and
// PostgreSQL implement it; the store's SQL is written once for both. A
// connection is used by one thread at a time (see DeliveryStore).

import QmailSupport

protocol SQLConnection: AnyObject {
    var engine: SQLEngine { get }

    /// Runs one statement; rows for queries, [] otherwise.
    func execute(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow]

    /// Runs statements whose results nobody reads, in order, in as few round
    /// trips as the engine allows (PostgreSQL: one statement of WITH clauses).
    func executeAll(_ statements: [SQLStatement]) throws(StoreError)

    /// Runs several statements with no parameters (migrations).
    func executeScript(_ sql: String) throws(StoreError)

    /// Starts a write transaction; a lost connection is re-made here only.
    func beginWrite() throws(StoreError)
    /// Starts a read-only transaction: one snapshot for all its statements.
    func beginRead() throws(StoreError)
    func commit() throws(StoreError)
    /// Never throws: a failed rollback leaves the connection to be re-made.
    func rollback()

    /// How many rows the last INSERT/UPDATE/DELETE touched.
    var changes: Int { get }

    /// Random, per connection: the counter rows this connection alone writes.
    var counterShard: Int64 { get }
}

extension SQLConnection {
    func execute(_ sql: String, _ parameters: SQLValue...) throws(StoreError) -> [SQLRow] {
        try execute(sql, parameters)
    }
}

/// A statement with its parameters, numbered from $1.
struct SQLStatement: Sendable {
    let sql: String
    let parameters: [SQLValue]

    init(_ sql: String, _ parameters: [SQLValue]) {
        self.sql = sql
        self.parameters = parameters
    }
}

enum SQLEngine: Sendable {
    case sqlite, postgresql

    /// Row locking for claims: PostgreSQL lets replicas skip each other's rows;
    /// SQLite's single writer needs nothing.
    var skipLocked: String { self == .postgresql ? " FOR UPDATE SKIP LOCKED" : "" }
    var blob: String { self == .postgresql ? "BYTEA" : "BLOB" }
    var integer: String { self == .postgresql ? "BIGINT" : "INTEGER" }
}
