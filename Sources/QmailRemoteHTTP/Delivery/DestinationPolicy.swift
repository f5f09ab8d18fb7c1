// The gateway's outbound destination policy: a delivery reached through a
// request's `host` or its recipients' domains (a literal, or MX/A/AAAA) may
// not connect to this machine, private networks or addresses that are not
// unicast on the Internet, unless --allow-destinations names them. Relays
// from control/smtproutes are the installation's choice and always pass (the
// core never asks about them). The command has no such policy.

import QmailRemote
import QmailSupport

public struct DestinationPolicy: Sendable {
    /// Ranges let through whatever the refused ranges say.
    public let allowed: [AddressRange]

    public init(allowed: [AddressRange] = []) { self.allowed = allowed }

    /// The ranges refused, each with what it is (the phrase in the report).
    static let refused: [(range: AddressRange, what: String)] = [
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a private address"),
        ("fe80::/10", "a link-local address"),
        ("ff00::/8", "a multicast address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("100::/64", "a discard-only address"),
    ].map { (AddressRange($0.0)!, $0.1) }

    /// nil: the address may be used; otherwise what it is.
    public func refusal(for address: IPAddress) -> String? {
        if allowed.contains(where: { $0.contains(address) }) { return nil }
        return Self.refused.first { $0.range.contains(address) }?.what
    }

    /// The core's seam, with this policy.
    public var filter: DestinationFilter { DestinationFilter { [self] in refusal(for: $0) } }

    public struct BadRange: Error {
        public let text: String
    }

    /// `CIDR,CIDR,...` (white space allowed), or the first entry that is not one.
    public static func parseAllowed(_ text: String) -> Result<[AddressRange], BadRange> {
        var ranges: [AddressRange] = []
        for piece in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" }) {
            guard let range = AddressRange(String(piece)) else { return .failure(BadRange(text: String(piece))) }
            ranges.append(range)
        }
        return .success(ranges)
    }
}
