// Values keyed by host the way qmail's smtproutes are matched: the host
// exactly, then ".suffix" keys from the longest to the shortest, then the
// empty key (the default), all case-insensitive. Shared by smtproutes,
// tlspolicy and dkimdomains.

import QmailSupport

struct HostTable<Value: Sendable & Equatable>: Sendable, Equatable {
    private var values: [[UInt8]: Value] = [:]

    init() {}

    var isEmpty: Bool { values.isEmpty }

    /// A later value for the same key wins, as in qmail.
    mutating func set(_ key: [UInt8], _ value: Value) {
        values[ASCII.lowercased(key)] = value
    }

    func lookup(_ host: [UInt8]) -> Value? {
        if values.isEmpty { return nil }
        return specific(host) ?? fallback
    }

    /// The host exactly, then ".suffix" keys longest first; never the empty key.
    func specific(_ host: [UInt8]) -> Value? {
        if values.isEmpty { return nil }
        let host = ASCII.lowercased(host)
        if let exact = values[host] { return exact }
        for (index, byte) in host.enumerated() where byte == UInt8(ascii: ".") {
            if let value = values[Array(host[index...])] { return value }
        }
        return nil
    }

    /// The empty key's value (the default).
    var fallback: Value? { values[[]] }
}
