// What the delivery asks of DNS: MX records of a name, IPv4 (A) and IPv6
// (AAAA) addresses of a name; for DANE the same with DNSSEC (the DO bit
// asked, the AD bit read) and TLSA records; for MTA-STS, TXT records. The
// real one is SystemResolver; tests may answer from a table.

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

/// An answer to a query sent with the DO bit, and whether the resolver
/// vouched for it (the AD bit): only a validating resolver the installation
/// trusts sets that, so "secure" means what that resolver says.
public struct ValidatedAnswer<Record: Sendable>: Sendable {
    public let answer: DNSAnswer<Record>
    public let secure: Bool

    public init(_ answer: DNSAnswer<Record>, secure: Bool) {
        self.answer = answer
        self.secure = secure
    }
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

    /// DANE's lookups: asked with the DO bit, answered with the AD bit.
    func validatedMailExchangers(of name: [UInt8]) -> ValidatedAnswer<MXRecord>
    func validatedIPv4Addresses(of name: [UInt8]) -> ValidatedAnswer<IPAddress>
    func validatedIPv6Addresses(of name: [UInt8]) -> ValidatedAnswer<IPAddress>
    /// TLSA records at `name` (for SMTP, "_25._tcp." and the MX host).
    func tlsaRecords(of name: [UInt8]) -> ValidatedAnswer<TLSARecord>

    /// TXT records of `name`, each record's strings joined (MTA-STS discovery).
    func textRecords(of name: [UInt8]) -> DNSAnswer<[UInt8]>
}
