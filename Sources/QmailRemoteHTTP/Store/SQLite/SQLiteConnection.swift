// One connection to a SQLite file through the system's libsqlite3: WAL,
// synchronous=FULL (a commit is on disk when it returns), a busy timeout, and
// prepared statements kept per SQL text. Result codes become StoreError here.
// Not thread-safe: the store gives it to one thread at a time.

internal import CSQLite

final class SQLiteConnection: SQLConnection {
    let engine = SQLEngine.sqlite
    private let database: OpaquePointer
    private let path: String
    private var statements: [String: OpaquePointer] = [:]
    let counterShard = Int64.random(in: 0..<Int64.max)

    init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws(StoreError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw Self.error(code, message, path: path)
        }
        database = handle
        self.path = path
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        // WAL first: it reads the file header, so a corrupt or foreign file fails here.
        let mode = try execute("PRAGMA journal_mode=WAL", [])
        guard mode.first?.first?.text?.lowercased() == "wal" else {
            throw .readOnly("\(path): cannot switch to write-ahead logging")
        }
        _ = try execute("PRAGMA synchronous=FULL", [])
        // After a checkpoint the log file is cut back to this size, not left at its largest.
        _ = try execute("PRAGMA journal_size_limit=16777216", [])
        _ = try execute("PRAGMA foreign_keys=ON", [])
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(database)
    }

    var changes: Int { Int(sqlite3_changes(database)) }

    func execute(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow] {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let number): code = sqlite3_bind_int64(statement, index, number)
            case .null: code = sqlite3_bind_null(statement, index)
            case .text(let text):
                var text = text
                code = text.withUTF8 { bytes in
                    csqlite_bind_text_copy(statement, index, bytes.baseAddress, Int32(bytes.count))
                }
            case .blob(let bytes):
                // An empty array's base address may be nil, which SQLite would bind as NULL.
                code = bytes.withUnsafeBytes { raw in
                    csqlite_bind_blob_copy(
                        statement, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count))
                }
            }
            guard code == SQLITE_OK else { throw failure(code) }
        }
        var rows: [SQLRow] = []
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return rows }
            guard code == SQLITE_ROW else { throw failure(code) }
            let count = sqlite3_column_count(statement)
            var row: SQLRow = []
            row.reserveCapacity(Int(count))
            for column in 0..<count {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_NULL: row.append(.null)
                case SQLITE_TEXT:
                    let length = Int(sqlite3_column_bytes(statement, column))
                    let pointer = sqlite3_column_text(statement, column)
                    row.append(
                        .text(String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)))
                default:
                    let length = Int(sqlite3_column_bytes(statement, column))
                    if length == 0 {
                        row.append(.blob([]))
                    } else {
                        let pointer = sqlite3_column_blob(statement, column)!
                        row.append(.blob(Array(UnsafeRawBufferPointer(start: pointer, count: length))))
                    }
                }
            }
            rows.append(row)
        }
    }

    func executeAll(_ statements: [SQLStatement]) throws(StoreError) {
        for statement in statements { _ = try execute(statement.sql, statement.parameters) }
    }

    func executeScript(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(database, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard code == SQLITE_OK else {
            throw Self.error(code, message.map { String(cString: $0) } ?? "", path: path)
        }
    }

    func beginWrite() throws(StoreError) { _ = try execute("BEGIN IMMEDIATE", []) }
    func beginRead() throws(StoreError) { _ = try execute("BEGIN", []) }
    func commit() throws(StoreError) { _ = try execute("COMMIT", []) }

    func rollback() {
        if sqlite3_get_autocommit(database) == 0 { _ = try? execute("ROLLBACK", []) }
    }

    /// The engine's statement for this text, compiled once; `$1` becomes `?1`.
    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        let translated = String(sql.map { $0 == "$" ? "?" : $0 })
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(database, translated, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw failure(code) }
        statements[sql] = statement
        return statement
    }

    private func failure(_ code: Int32) -> StoreError {
        Self.error(code, String(cString: sqlite3_errmsg(database)), path: path)
    }

    /// SQLite's primary result codes, as the store's errors.
    static func error(_ code: Int32, _ message: String, path: String) -> StoreError {
        let detail = "\(path): \(message)"
        switch code & 0xff {
        case SQLITE_FULL: return .diskFull(detail)
        case SQLITE_READONLY: return .readOnly(detail)
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .corrupt(detail)
        case SQLITE_IOERR: return .ioError(detail)
        case SQLITE_CANTOPEN: return .cannotOpen(detail)
        case SQLITE_BUSY, SQLITE_LOCKED: return .unavailable(detail)
        case SQLITE_PERM, SQLITE_AUTH: return .readOnly(detail)
        default: return .failed(detail)
        }
    }
}
