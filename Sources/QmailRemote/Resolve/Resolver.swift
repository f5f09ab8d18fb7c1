// What the delivery asks of DNS: MX records of a name, IPv4 (A) and IPv6
// (AAAA) addresses of a name. The real one is SystemResolver; tests may
// answer from a table.

import QmailSupport

public enum DNSAnswer<Record: Sendable>: Sendable {
    case records([Record])
    /// NXDOMAIN: the name does not exist.
    case noSuchDomain
    /// The name exists but has no records of this type.
    case noRecords
    /// SERVFAIL, time-out, REFUSED or anything else that may pass.
    case temporaryFailure
}

public struct MXRecord: Sendable, Equatable {
    public let preference: Int
    /// The exchange's name; empty for a null MX (".", RFC 7505).
    public let exchange: [UInt8]

    public init(preference: Int, exchange: [UInt8]) {
        self.preference = preference
        self.exchange = exchange
    }
}

public protocol Resolver: Sendable {
    func mailExchangers(of name: [UInt8]) -> DNSAnswer<MXRecord>
    func ipv4Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress>
    func ipv6Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress>
}
