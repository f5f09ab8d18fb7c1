// IP addresses: strict dotted quads, IPv6 as inet_pton takes it, literals in
// qmail's and RFC 5321's forms, RFC 5952 text, and sockaddr round trips.

import QmailSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct IPAddressTests {
    @Test func ipv4LiteralsAreStrict() {
        #expect(IPAddress(dotted: "10.0.0.255")?.description == "10.0.0.255")
        for bad in ["1.2.3", "1.2.3.4.5", "1..2.3", "01234.1.1.1", "1.2.3.4 ", "0x1.2.3.4", "256.1.1.1", ""] {
            #expect(IPAddress(dotted: bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6Literals() {
        #expect(IPAddress(literal: Array("[IPv6:2001:db8::25]".utf8), ipv6: true)?.description == "2001:db8::25")
        #expect(IPAddress(literal: Array("[ipv6:2001:db8::25]".utf8), ipv6: true)?.description == "2001:db8::25")
        #expect(IPAddress(literal: Array("2001:DB8:0:0::25".utf8), ipv6: true)?.description == "2001:db8::25")
        #expect(IPAddress(literal: Array("[::1]".utf8), ipv6: true)?.description == "::1")
        #expect(IPAddress(literal: Array("[IPv6:::1]".utf8), ipv6: false) == nil)
        for bad in ["[IPv6:1.2.3.4]", "[IPv6:]", "2001:db8::25::1", "[IPv6:fe80::1%eth0]", "12345::1"] {
            #expect(IPAddress(literal: Array(bad.utf8), ipv6: true) == nil, "\(bad)")
        }
    }

    @Test func networkOrderRoundTrip() {
        let address = IPAddress(192, 0, 2, 33)
        #expect(IPAddress(networkOrder: address.networkOrder) == address)
        #expect(address.networkOrder == inet_addr("192.0.2.33"))
    }

    @Test func socketAddressesCarryFamilyAddressAndPort() {
        let v4 = SocketAddress.with(IPAddress(192, 0, 2, 1), port: 2525) { pointer, length in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                (Int32($0.pointee.sin_family), UInt16(bigEndian: $0.pointee.sin_port), length)
            }
        }
        #expect(v4.0 == AF_INET && v4.1 == 2525 && Int(v4.2) == MemoryLayout<sockaddr_in>.size)
        let address = IPAddress(literal: Array("2001:db8::7".utf8), ipv6: true)!
        let v6 = SocketAddress.with(address, port: 25) { pointer, length in
            pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var bytes = sin6.pointee.sin6_addr
                return (Int32(sin6.pointee.sin6_family), withUnsafeBytes(of: &bytes) { Array($0) }, length)
            }
        }
        #expect(v6.0 == AF_INET6 && v6.1 == address.bytes && Int(v6.2) == MemoryLayout<sockaddr_in6>.size)
    }
}
