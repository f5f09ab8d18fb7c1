// A whole JSON value in memory, for small bodies whose shape is read after
// parsing (the compose API's): the streaming JSONReader's grammar and checks
// (UTF-8, no duplicate keys, nesting at most 32, nothing after the value),
// with errors that say where the text went wrong. Large messages use
// JSONPayload, which never builds a tree.

public indirect enum JSONNode: Equatable, Sendable {
    case object([(String, JSONNode)])
    case array([JSONNode])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    public static func == (lhs: JSONNode, rhs: JSONNode) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)), (.number(let a), .number(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    /// The JSON type's name, for error messages.
    public var typeName: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}

public struct JSONSyntaxError: Error, Equatable, Sendable {
    public let offset: Int
    public let reason: String
}

extension JSONReader {
    /// The value `bytes` hold, whole.
    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONNode {
        var reader = JSONReader(StoredMessage(bytes).reader(), length: bytes.count)
        do {
            let value = try reader.node(depth: 0)
            try reader.finish()
            return value
        } catch {
            switch error {
            case .syntax(let offset, let reason): throw JSONSyntaxError(offset: offset, reason: reason)
            case .unreadable: throw JSONSyntaxError(offset: reader.offset, reason: "unreadable")
            }
        }
    }

    private mutating func node(depth: Int) throws(JSONReadError) -> JSONNode {
        if depth > Self.maximumDepth { throw error("nested too deeply") }
        try skipWhitespace()
        guard let first = try peek() else { throw error("unexpected end") }
        switch first {
        case UInt8(ascii: "{"):
            take()
            var members: [(String, JSONNode)] = []
            var seen: Set<String> = []
            try skipWhitespace()
            if try peek() == UInt8(ascii: "}") {
                take()
                return .object([])
            }
            while true {
                try skipWhitespace()
                guard try peek() == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try text()
                if !seen.insert(key).inserted { throw error("duplicate key \(key.prefix(64))") }
                try skipWhitespace()
                guard try peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
                take()
                members.append((key, try node(depth: depth + 1)))
                if try endOfMember(closing: UInt8(ascii: "}")) { return .object(members) }
            }
        case UInt8(ascii: "["):
            take()
            var items: [JSONNode] = []
            try skipWhitespace()
            if try peek() == UInt8(ascii: "]") {
                take()
                return .array([])
            }
            while true {
                items.append(try node(depth: depth + 1))
                if try endOfMember(closing: UInt8(ascii: "]")) { return .array(items) }
            }
        case UInt8(ascii: "\""): return .string(try text())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(String(decoding: try number(), as: UTF8.self))
        default: throw error("unexpected character")
        }
    }

    private mutating func text() throws(JSONReadError) -> String {
        var bytes = CappedBytes(cap: Int.max)
        try readString(into: &bytes)
        return String(decoding: bytes.bytes, as: UTF8.self)
    }
}
