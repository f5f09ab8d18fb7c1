// The values the store exchanges with either engine: integers, text, bytes
// and NULL. Both connections bind and read exactly these, so the store's SQL
// runs unchanged on SQLite and PostgreSQL. Not a general SQL value model.

enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    var bytes: [UInt8]? {
        switch self {
        case .blob(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        default: return nil
        }
    }

    var text: String? {
        switch self {
        case .text(let text): return text
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    var isNull: Bool { self == .null }
}

extension SQLValue {
    init(_ value: Int64?) { self = value.map { .integer($0) } ?? .null }
    init(_ value: Int) { self = .integer(Int64(value)) }
    init(_ value: String) { self = .text(value) }
    init(_ bytes: [UInt8]?) { self = bytes.map { .blob($0) } ?? .null }
}

/// One result row; columns by position, as the query lists them.
typealias SQLRow = [SQLValue]
