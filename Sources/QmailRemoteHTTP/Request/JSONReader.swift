// A strict RFC 8259 JSON reader that streams: it pulls the text in pieces
// from a stored body (memory or spool file) and hands string values to a
// sink as they are read, so a 35 MB message_base64 is never held whole.
// UTF-8 only, no control characters in strings, no lone surrogates, nesting
// at most 32 deep; errors say at which byte the text went wrong. The
// payload's shape (which keys, which types) is JSONPayload's business.

import QmailRemote
import QmailSupport

public enum JSONReadError: Error, Sendable, Equatable {
    case syntax(offset: Int, reason: String)
    /// The spool file could not be read.
    case unreadable
}

/// Receives a string value's bytes (escapes decoded) as they are read.
protocol JSONStringSink {
    mutating func append(_ bytes: UnsafeRawBufferPointer)
}

/// A string value's bytes, up to a cap; longer ones are marked.
struct CappedBytes: JSONStringSink {
    let cap: Int
    var bytes: [UInt8] = []
    var overflowed = false

    init(cap: Int) { self.cap = cap }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        let room = cap - bytes.count
        if chunk.count > room { overflowed = true }
        if room > 0 { bytes.append(contentsOf: chunk.prefix(room)) }
    }
}

/// A string value nobody wants (unknown fields): read for its syntax only.
struct DiscardedBytes: JSONStringSink {
    mutating func append(_ bytes: UnsafeRawBufferPointer) {}
}

struct JSONReader {
    static let maximumDepth = 32
    static let chunkSize = 65536

    private let source: any MessageSource
    private var buffer: [UInt8]
    private var index = 0
    private var end = 0
    /// Bytes before `buffer[0]`.
    private var base = 0

    /// `length`: how many bytes there are, so a small body gets a small buffer.
    init(_ source: any MessageSource, length: Int = chunkSize) {
        self.source = source
        let size = max(1, min(Self.chunkSize, length))
        buffer = [UInt8](unsafeUninitializedCapacity: size) { $1 = size }
    }

    /// Where the reader is, for error messages.
    var offset: Int { base + index }

    func error(_ reason: String) -> JSONReadError { .syntax(offset: offset, reason: reason) }

    /// The next byte without taking it; nil at the end of the text.
    mutating func peek() throws(JSONReadError) -> UInt8? {
        if index == end {
            base += end
            index = 0
            do {
                end = try buffer.withUnsafeMutableBytes { raw throws(MessageReadError) in try source.read(into: raw) }
            } catch {
                throw .unreadable
            }
            if end == 0 { return nil }
        }
        return buffer[index]
    }

    mutating func take() { index += 1 }

    mutating func skipWhitespace() throws(JSONReadError) {
        while let byte = try peek(), byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d { take() }
    }

    /// The type of the value that starts here, by its first byte.
    mutating func valueTypeName() throws(JSONReadError) -> String {
        switch try peek() {
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "a number"
        }
    }

    /// After the value: only white space may follow.
    mutating func finish() throws(JSONReadError) {
        try skipWhitespace()
        if try peek() != nil { throw error("data after the JSON value") }
    }

    /// Reads any value for its syntax, keeping nothing.
    mutating func skipValue(depth: Int) throws(JSONReadError) {
        if depth > Self.maximumDepth { throw error("nested too deeply") }
        try skipWhitespace()
        guard let first = try peek() else { throw error("unexpected end") }
        switch first {
        case UInt8(ascii: "{"):
            take()
            try skipWhitespace()
            if try peek() == UInt8(ascii: "}") { take(); return }
            while true {
                try skipWhitespace()
                guard try peek() == UInt8(ascii: "\"") else { throw error("expected a key") }
                var key = DiscardedBytes()
                try readString(into: &key)
                try skipWhitespace()
                guard try peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
                take()
                try skipValue(depth: depth + 1)
                if try endOfMember(closing: UInt8(ascii: "}")) { return }
            }
        case UInt8(ascii: "["):
            take()
            try skipWhitespace()
            if try peek() == UInt8(ascii: "]") { take(); return }
            while true {
                try skipValue(depth: depth + 1)
                if try endOfMember(closing: UInt8(ascii: "]")) { return }
            }
        case UInt8(ascii: "\""):
            var ignored = DiscardedBytes()
            try readString(into: &ignored)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw error("unexpected character")
        }
    }

    /// After a member or item: true at the closing bracket, false after a comma.
    mutating func endOfMember(closing: UInt8) throws(JSONReadError) -> Bool {
        try skipWhitespace()
        guard let byte = try peek() else { throw error("unexpected end") }
        take()
        if byte == UInt8(ascii: ",") { return false }
        if byte == closing { return true }
        index -= 1
        throw error(closing == UInt8(ascii: "}") ? "expected ',' or '}'" : "expected ',' or ']'")
    }

    mutating func literal(_ word: String) throws(JSONReadError) {
        for expected in word.utf8 {
            guard try peek() == expected else { throw error("unexpected character") }
            take()
        }
    }

    /// Reads a number; returns its text.
    @discardableResult
    mutating func number() throws(JSONReadError) -> [UInt8] {
        var text: [UInt8] = []
        func take(_ reader: inout JSONReader, _ byte: UInt8) {
            text.append(byte)
            reader.take()
        }
        func digits(_ reader: inout JSONReader) throws(JSONReadError) -> Int {
            var count = 0
            while let byte = try reader.peek(), byte >= 48, byte <= 57 {
                take(&reader, byte)
                count += 1
            }
            return count
        }
        if try peek() == UInt8(ascii: "-") { take(&self, UInt8(ascii: "-")) }
        if try peek() == UInt8(ascii: "0") {
            take(&self, UInt8(ascii: "0"))
        } else if try digits(&self) == 0 {
            throw error("bad number")
        }
        if try peek() == UInt8(ascii: ".") {
            take(&self, UInt8(ascii: "."))
            if try digits(&self) == 0 { throw error("bad number") }
        }
        if let byte = try peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            take(&self, byte)
            if let sign = try peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { take(&self, sign) }
            if try digits(&self) == 0 { throw error("bad number") }
        }
        return text
    }

    /// Reads a string (the reader is at its opening quote) into `sink`.
    mutating func readString<Sink: JSONStringSink>(into sink: inout Sink) throws(JSONReadError) {
        take()
        var utf8 = UTF8Validator()
        while true {
            guard try peek() != nil else { throw error("unterminated string") }
            // Plain ASCII goes to the sink a run at a time.
            let run = buffer.withUnsafeBytes { raw -> Int in
                var stop = index
                while stop < end {
                    let byte = raw[stop]
                    if byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
                    stop += 1
                }
                return stop - index
            }
            if run > 0 {
                guard utf8.isComplete else { throw error("string is not valid UTF-8") }
                buffer.withUnsafeBytes { sink.append(UnsafeRawBufferPointer(rebasing: $0[index..<(index + run)])) }
                index += run
                continue
            }
            let byte = buffer[index]
            take()
            switch byte {
            case UInt8(ascii: "\""):
                guard utf8.isComplete else { throw error("string is not valid UTF-8") }
                return
            case UInt8(ascii: "\\"):
                guard utf8.isComplete else { throw error("string is not valid UTF-8") }
                let decoded = try escape()
                decoded.withUnsafeBytes { sink.append($0) }
            case 0..<0x20:
                index -= 1
                throw error("control character in string")
            default:
                guard utf8.accept(byte) else {
                    index -= 1
                    throw error("string is not valid UTF-8")
                }
                withUnsafeBytes(of: byte) { sink.append($0) }
            }
        }
    }

    /// After a backslash: the escaped character's UTF-8 bytes.
    private mutating func escape() throws(JSONReadError) -> [UInt8] {
        guard let escape = try peek() else { throw error("unterminated string") }
        take()
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return [escape]
        case UInt8(ascii: "b"): return [8]
        case UInt8(ascii: "f"): return [12]
        case UInt8(ascii: "n"): return [10]
        case UInt8(ascii: "r"): return [13]
        case UInt8(ascii: "t"): return [9]
        case UInt8(ascii: "u"): return try unicodeEscape()
        default: throw error("bad escape")
        }
    }

    /// After "\u": four hex digits, a surrogate pair taken whole.
    private mutating func unicodeEscape() throws(JSONReadError) -> [UInt8] {
        var value = try hex4()
        if (0xD800...0xDBFF).contains(value) {
            guard try peek() == UInt8(ascii: "\\") else { throw error("lone surrogate") }
            take()
            guard try peek() == UInt8(ascii: "u") else { throw error("lone surrogate") }
            take()
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate") }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(value) {
            throw error("lone surrogate")
        }
        return Array(String(Character(Unicode.Scalar(value)!)).utf8)
    }

    private mutating func hex4() throws(JSONReadError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = try peek() else { throw error("bad \\u escape") }
            let digit: UInt8
            switch byte {
            case 48...57: digit = byte - 48
            case 65...70: digit = byte - 55
            case 97...102: digit = byte - 87
            default: throw error("bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
            take()
        }
        return value
    }
}

/// Checks UTF-8 one byte at a time (no overlong forms, no surrogates, nothing past U+10FFFF).
struct UTF8Validator {
    private var needed = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    var isComplete: Bool { needed == 0 }

    mutating func accept(_ byte: UInt8) -> Bool {
        if needed == 0 {
            switch byte {
            case 0x00...0x7F: return true
            case 0xC2...0xDF: needed = 1
            case 0xE0...0xEF:
                if byte == 0xE0 { lower = 0xA0 }
                if byte == 0xED { upper = 0x9F }
                needed = 2
            case 0xF0...0xF4:
                if byte == 0xF0 { lower = 0x90 }
                if byte == 0xF4 { upper = 0x8F }
                needed = 3
            default: return false
            }
            return true
        }
        guard byte >= lower && byte <= upper else { return false }
        lower = 0x80
        upper = 0xBF
        needed -= 1
        return true
    }
}
