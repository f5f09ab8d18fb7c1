// What can go wrong in the store, as values the gateway maps to answers:
// `unavailable` is 503 store_unavailable (PostgreSQL down or the connection
// lost, SQLite busy past its timeout); the others are 503 as well but say why
// in the log. A failed write never leaves half a row: each is one transaction.

public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server cannot be reached or the connection was lost; try again later.
    case unavailable(String)
    /// No space left for the database, its journal or a message file.
    case diskFull(String)
    /// The database file or its directory cannot be written.
    case readOnly(String)
    /// The file is not a database or is damaged.
    case corrupt(String)
    /// The operating system refused a read or write.
    case ioError(String)
    /// The file or its directory cannot be opened or created.
    case cannotOpen(String)
    /// Another process owns the SQLite file (one gateway per file).
    case inUse(String)
    /// The schema in the database is newer than this program knows.
    case schemaTooNew(found: Int64, known: Int64)
    /// Anything else the engine reported.
    case failed(String)

    public var description: String {
        switch self {
        case .unavailable(let detail): return "store unavailable: \(detail)"
        case .diskFull(let detail): return "disk full: \(detail)"
        case .readOnly(let detail): return "read-only: \(detail)"
        case .corrupt(let detail): return "corrupt database: \(detail)"
        case .ioError(let detail): return "I/O error: \(detail)"
        case .cannotOpen(let detail): return "cannot open: \(detail)"
        case .inUse(let detail): return "in use by another process: \(detail)"
        case .schemaTooNew(let found, let known):
            return "schema version \(found) is newer than this program's (\(known))"
        case .failed(let detail): return "store error: \(detail)"
        }
    }

    /// A short stable word for logs and metrics labels.
    public var kind: String {
        switch self {
        case .unavailable: return "unavailable"
        case .diskFull: return "disk_full"
        case .readOnly: return "read_only"
        case .corrupt: return "corrupt"
        case .ioError: return "io_error"
        case .cannotOpen: return "cannot_open"
        case .inUse: return "in_use"
        case .schemaTooNew: return "schema_too_new"
        case .failed: return "failed"
        }
    }
}

/// Opening or migrating failed: names the store (password masked) for the
/// caller to print with its flag, e.g. "--store: cannot open sqlite:/x: ...".
public struct StoreOpenError: Error, Sendable, CustomStringConvertible {
    public let url: StoreURL
    public let reason: StoreError

    public var description: String { "cannot open \(url.masked): \(reason)" }
}
