// A whole JSON value in memory, for small values whose shape is read after
// parsing (the compose API's addresses, subject and headers): the streaming
// JSONReader's grammar and checks (UTF-8, no duplicate keys, nesting at most
// 32, nothing after the value), with errors that say where the text went
// wrong, and a budget for the string bytes kept. Large strings are streamed
// by JSONPayload and ComposePayload, never held in a tree.

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
            var budget = Int.max
            let value = try reader.node(depth: 0, budget: &budget)
            try reader.finish()
            return value
        } catch {
            switch error {
            case .syntax(let offset, let reason): throw JSONSyntaxError(offset: offset, reason: reason)
            case .unreadable: throw JSONSyntaxError(offset: reader.offset, reason: "unreadable")
            }
        }
    }

    /// The value here. `budget`: the string bytes (keys included) it may
    /// still keep; past it, strings are kept cut and the budget goes below zero.
    mutating func node(depth: Int, budget: inout Int) throws(JSONReadError) -> JSONNode {
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
                let key = try text(&budget, cap: JSONPayload.stringCap)
                if !seen.insert(key).inserted { throw error("duplicate key \(key.prefix(64))") }
                try skipWhitespace()
                guard try peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
                take()
                members.append((key, try node(depth: depth + 1, budget: &budget)))
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
                items.append(try node(depth: depth + 1, budget: &budget))
                if try endOfMember(closing: UInt8(ascii: "]")) { return .array(items) }
            }
        case UInt8(ascii: "\""): return .string(try text(&budget))
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

    /// A string, cut at `cap` bytes (keys) or at what the budget has left.
    private mutating func text(_ budget: inout Int, cap: Int = .max) throws(JSONReadError) -> String {
        var bytes = CappedBytes(cap: min(cap, max(0, budget)))
        try readString(into: &bytes)
        budget = bytes.overflowed || bytes.bytes.count > budget ? -1 : budget - bytes.bytes.count
        return String(decoding: bytes.bytes, as: UTF8.self)
    }
}
