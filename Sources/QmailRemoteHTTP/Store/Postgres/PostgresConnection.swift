// One connection to PostgreSQL through libpq: parameters and results in
// binary (no quoting, no text parsing of bytes), errors sorted by SQLSTATE, and
// a lost connection re-made at the start of the next transaction, never in the
// middle of one. Not thread-safe: the store gives it to one thread at a time.

import QmailSupport
internal import CLibPQ

#if canImport(Glibc)
import Glibc
#endif

final class PostgresConnection: SQLConnection {
    let engine = SQLEngine.postgresql
    private let url: String
    private var connection: OpaquePointer?
    private var inTransaction = false
    /// Statements prepared on this session, by SQL text; a new session starts empty.
    private var prepared: [String: String] = [:]
    private(set) var changes = 0
    let counterShard = Int64.random(in: 0..<Int64.max)

    init(url: String) throws(StoreError) {
        self.url = url
        try connect()
    }

    deinit { PQfinish(connection) }

    private func connect() throws(StoreError) {
        PQfinish(connection)
        // connect_timeout first: a value in the URL, expanded from dbname, overrides it.
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = ["10", "qmail-remote-httpd", url]
        connection = withCStrings(keywords) { keys in
            withCStrings(values) { values in PQconnectdbParams(keys, values, 1) }
        }
        prepared = [:]
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { Self.trimmed(String(cString: PQerrorMessage($0))) } ?? "out of memory"
            PQfinish(connection)
            self.connection = nil
            throw .unavailable(message)
        }
        try executeScript("SET client_min_messages TO warning")
    }

    func beginWrite() throws(StoreError) {
        if connection == nil || PQstatus(connection) != CONNECTION_OK { try connect() }
        _ = try execute("BEGIN", [])
        inTransaction = true
    }

    func beginRead() throws(StoreError) {
        if connection == nil || PQstatus(connection) != CONNECTION_OK { try connect() }
        _ = try execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [])
        inTransaction = true
    }

    func commit() throws(StoreError) {
        defer { inTransaction = false }
        _ = try execute("COMMIT", [])
    }

    func rollback() {
        inTransaction = false
        guard let connection, PQstatus(connection) == CONNECTION_OK else { return }
        PQclear(PQexec(connection, "ROLLBACK"))
    }

    func execute(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow] {
        try execute(sql, parameters, prepare: true)
    }

    func executeAll(_ statements: [SQLStatement]) throws(StoreError) {
        var start = 0
        while start < statements.count {
            // As many as fit the protocol's 65535 parameters, with room to spare.
            var end = start + 1
            var count = statements[start].parameters.count
            while end < statements.count && count + statements[end].parameters.count <= 30000 {
                count += statements[end].parameters.count
                end += 1
            }
            if end == start + 1 {
                _ = try execute(statements[start].sql, statements[start].parameters)
            } else {
                let merged = SQLStatement.merged(statements[start..<end])
                _ = try execute(merged.sql, merged.parameters, prepare: false)
            }
            start = end
        }
    }

    private func execute(_ sql: String, _ parameters: [SQLValue], prepare: Bool) throws(StoreError) -> [SQLRow] {
        if !inTransaction, connection == nil || PQstatus(connection) != CONNECTION_OK { try connect() }
        guard let connection else { throw .unavailable("no connection") }
        var types: [Oid] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var buffers: [[UInt8]?] = []
        for value in parameters {
            switch value {
            case .integer(let number):
                types.append(20)
                buffers.append(withUnsafeBytes(of: number.bigEndian) { Array($0) })
            case .text(let text):
                types.append(25)
                buffers.append(Array(text.utf8))
            case .blob(let bytes):
                types.append(17)
                buffers.append(bytes)
            case .null:
                types.append(0)
                buffers.append(nil)
            }
            lengths.append(Int32(buffers.last!?.count ?? 0))
            formats.append(1)
        }
        let name = prepare ? try statement(sql, types: types) : nil
        let result = withBuffers(buffers) { pointers in
            if let name {
                return PQexecPrepared(connection, name, Int32(parameters.count), pointers, lengths, formats, 1)
            }
            return PQexecParams(connection, sql, Int32(parameters.count), types, pointers, lengths, formats, 1)
        }
        defer { PQclear(result) }
        try check(result)
        let tuples = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        changes = Int(tuples) ?? 0
        return rows(of: result!)
    }

    /// The name of `sql` prepared on this session (parsed and planned once).
    /// Types are part of the statement: the store always binds the same kinds
    /// in the same places, except NULLs, which take the column's type.
    private func statement(_ sql: String, types: [Oid]) throws(StoreError) -> String {
        let key = sql + "\u{0}" + types.map(String.init).joined(separator: ",")
        if let name = prepared[key] { return name }
        let name = "s\(prepared.count)"
        let result = PQprepare(connection, name, sql, Int32(types.count), types)
        defer { PQclear(result) }
        try check(result)
        prepared[key] = name
        return name
    }

    func executeScript(_ sql: String) throws(StoreError) {
        guard let connection else { throw .unavailable("no connection") }
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        try check(result)
    }

    private func check(_ result: OpaquePointer?) throws(StoreError) {
        guard let result else { throw lost() }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return }
        if PQstatus(connection) != CONNECTION_OK { throw lost() }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let message = Self.trimmed(String(cString: PQresultErrorMessage(result)))
        throw Self.error(sqlState: state, message: message)
    }

    private func lost() -> StoreError {
        let message = connection.map { Self.trimmed(String(cString: PQerrorMessage($0))) } ?? ""
        return .unavailable(message.isEmpty ? "connection lost" : message)
    }

    /// SQLSTATE classes as the store's errors.
    static func error(sqlState: String, message: String) -> StoreError {
        switch sqlState {
        case "53100": return .diskFull(message)
        case "25006": return .readOnly(message)
        case "XX001", "XX002": return .corrupt(message)
        case "57P01", "57P02", "57P03", "53300", "40001", "40P01": return .unavailable(message)
        default:
            if sqlState.hasPrefix("08") { return .unavailable(message) }
            if sqlState.hasPrefix("58") { return .ioError(message) }
            return .failed(sqlState.isEmpty ? message : "\(message) (SQLSTATE \(sqlState))")
        }
    }

    private func rows(of result: OpaquePointer) -> [SQLRow] {
        let rowCount = PQntuples(result)
        let columnCount = PQnfields(result)
        let types = (0..<columnCount).map { PQftype(result, $0) }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: SQLRow = []
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(.null)
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: length)
                values.append(Self.value(type: types[Int(column)], bytes))
            }
            rows.append(values)
        }
        return rows
    }

    /// Binary result formats of the types the store's SQL produces.
    private static func value(type: Oid, _ bytes: UnsafeRawBufferPointer) -> SQLValue {
        switch type {
        case 20, 23, 21, 16:  // int8, int4, int2, bool: big-endian integers
            var number: Int64 = 0
            for byte in bytes { number = number << 8 | Int64(byte) }
            let bits = bytes.count * 8
            if bits > 0 && bits < 64 && number & (1 << (bits - 1)) != 0 { number -= 1 << bits }
            return .integer(number)
        case 25, 1043, 19:  // text, varchar, name
            return .text(String(decoding: bytes, as: UTF8.self))
        default:
            return .blob(Array(bytes))
        }
    }

    private static func trimmed(_ message: String) -> String {
        String(message.reversed().drop(while: { $0 == "\n" || $0 == " " }).reversed())
            .split(separator: "\n").joined(separator: "; ")
    }
}

extension SQLStatement {
    /// Several statements as one: `WITH q0 AS (...), q1 AS (...) SELECT 1`,
    /// each one's parameters renumbered after those before it. PostgreSQL runs
    /// every clause once, in one snapshot (so no two may change the same row).
    static func merged(_ statements: ArraySlice<SQLStatement>) -> SQLStatement {
        var clauses: [String] = []
        var parameters: [SQLValue] = []
        for (index, statement) in statements.enumerated() {
            clauses.append("q\(index) AS (\(renumbered(statement.sql, by: parameters.count)))")
            parameters += statement.parameters
        }
        return SQLStatement("WITH " + clauses.joined(separator: ", ") + " SELECT 1", parameters)
    }

    /// `$n` becomes `$(n + offset)`; the store's SQL has no `$` in literals.
    static func renumbered(_ sql: String, by offset: Int) -> String {
        guard offset > 0 else { return sql }
        var out = ""
        var digits = ""
        var inParameter = false
        for character in sql {
            if inParameter, character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            if inParameter {
                out += String(Int(digits)! + offset)
                inParameter = false
                digits = ""
            }
            out.append(character)
            if character == "$" { inParameter = true }
        }
        if inParameter { out += String(Int(digits)! + offset) }
        return out
    }
}

/// NUL-terminated copies of strings, alive for the call.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) } + [nil])
}

/// Pointers to each buffer (nil for NULL), alive for the call.
private func withBuffers<R>(_ buffers: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = []
    defer { pointers.forEach { $0?.deallocate() } }
    for buffer in buffers {
        guard let buffer else {
            pointers.append(nil)
            continue
        }
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(buffer.count, 1))
        buffer.withUnsafeBytes { raw in
            if raw.count > 0 {
                UnsafeMutableRawPointer(pointer).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
            }
        }
        pointers.append(pointer)
    }
    return body(pointers.map { UnsafePointer($0) })
}
