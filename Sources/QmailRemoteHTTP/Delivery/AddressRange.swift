// A block of IP addresses in CIDR form (10.0.0.0/8, fd00::/8, or a single
// address): parsed from --allow-destinations and used by the destination
// policy. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address.

import QmailSupport

public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    public init?(network: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= network.bytes.count * 8 else { return nil }
        self.network = network
        self.prefixLength = prefixLength
    }

    /// `ADDRESS/BITS` or a bare address (every bit counts); nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = Self.address(String(parts[0])) else { return nil }
        var bits = address.bytes.count * 8
        if parts.count == 2 {
            guard let given = Int(parts[1]), parts[1].allSatisfy(\.isASCII) else { return nil }
            bits = given
        }
        self.init(network: address, prefixLength: bits)
    }

    public func contains(_ address: IPAddress) -> Bool {
        let address = Self.unmapped(address)
        guard address.family == network.family else { return false }
        var left = prefixLength
        for (a, b) in zip(address.bytes, network.bytes) {
            if left <= 0 { return true }
            let mask: UInt8 = left >= 8 ? 0xff : ~(0xff >> UInt8(left))
            if a & mask != b & mask { return false }
            left -= 8
        }
        return true
    }

    public var description: String { "\(network)/\(prefixLength)" }

    /// ::ffff:a.b.c.d as a.b.c.d; anything else as it is.
    static func unmapped(_ address: IPAddress) -> IPAddress {
        let bytes = address.bytes
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else {
            return address
        }
        return IPAddress(bytes[12], bytes[13], bytes[14], bytes[15])
    }

    private static func address(_ text: String) -> IPAddress? {
        let bytes = Array(text.utf8)
        return IPAddress(dotted: bytes) ?? IPAddress(ipv6: bytes)
    }
}
