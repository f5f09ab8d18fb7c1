// An MTA-STS policy (RFC 8461 section 3.2) as fetched from
// https://mta-sts.<domain>/.well-known/mta-sts.txt: version, mode (enforce,
// testing, none), the MX patterns and max_age; and which MX hosts it allows
// (section 4.1). Parsing and matching only: no I/O here.

import QmailSupport

struct MTASTSPolicy: Sendable, Equatable {
    enum Mode: String, Sendable, Equatable {
        /// Only matching MX hosts, TLS with a valid certificate, or no delivery.
        case enforce
        /// Deliver as without a policy; report what would have failed.
        case testing
        /// No policy (how a domain withdraws one).
        case none
    }

    /// The largest max_age a policy may set (about a year, RFC 8461 3.2).
    static let largestMaxAge = 31_557_600

    let mode: Mode
    /// Lowercased, each either a host name or "*." and a domain.
    let mxPatterns: [[UInt8]]
    let maxAge: Int

    init(mode: Mode, mxPatterns: [[UInt8]], maxAge: Int) {
        self.mode = mode
        self.mxPatterns = mxPatterns.map(ASCII.lowercased)
        self.maxAge = maxAge
    }

    /// nil when `text` is not a valid policy: no "version: STSv1", a mode
    /// or max_age missing or malformed, or no mx line outside mode none.
    /// Unknown keys are passed over, as the RFC asks.
    init?(text: [UInt8]) {
        var version: [UInt8]?
        var mode: Mode?
        var maxAge: Int?
        var patterns: [[UInt8]] = []
        for rawLine in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            var line = rawLine[...]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
                return nil
            }
            let key = Array(Self.trimmed(line[..<colon]))
            let value = Array(Self.trimmed(line[line.index(after: colon)...]))
            switch String(decoding: key, as: UTF8.self) {
            case "version": version = value
            case "mode":
                mode = Mode(rawValue: String(decoding: value, as: UTF8.self))
                if mode == nil { return nil }
            case "max_age":
                guard !value.isEmpty, value.count <= 10, value.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
                let seconds = value.reduce(0) { $0 * 10 + Int($1 - 48) }
                guard seconds <= Self.largestMaxAge else { return nil }
                maxAge = seconds
            case "mx":
                guard Self.isPattern(value) else { return nil }
                patterns.append(value)
            default: continue
            }
        }
        guard version == Array("STSv1".utf8), let mode, let maxAge, mode == .none || !patterns.isEmpty else {
            return nil
        }
        self.init(mode: mode, mxPatterns: patterns, maxAge: maxAge)
    }

    /// Whether `host` (an MX host's name) is one of the policy's: the same
    /// name, or "*.d" and a name one label longer than d (RFC 8461 4.1).
    func allows(_ host: [UInt8]) -> Bool {
        var name = ASCII.lowercased(host)
        if name.last == UInt8(ascii: ".") { name.removeLast() }
        for pattern in mxPatterns {
            if pattern.starts(with: Array("*.".utf8)) {
                let suffix = pattern.dropFirst(1)  // ".d"
                guard name.count > suffix.count, name.suffix(suffix.count).elementsEqual(suffix) else { continue }
                let label = name.dropLast(suffix.count)
                if !label.contains(UInt8(ascii: ".")) { return true }
            } else if pattern == name {
                return true
            }
        }
        return false
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 32 || first == 9 { slice = slice.dropFirst() }
        while let last = slice.last, last == 32 || last == 9 { slice = slice.dropLast() }
        return slice
    }

    /// A host name or "*." and one: letters, digits, '-', '_' and dots.
    private static func isPattern(_ value: [UInt8]) -> Bool {
        let name = value.starts(with: Array("*.".utf8)) ? Array(value.dropFirst(2)) : value
        guard !name.isEmpty, name.first != UInt8(ascii: "."), name.count <= 253 else { return false }
        return name.allSatisfy {
            ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46
                || $0 == 95
        }
    }
}
