// The outbound destination policy and its address ranges, in memory: every
// refused range, ranges let through by --allow-destinations, IPv4-mapped
// addresses, and what --allow-destinations accepts.

import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct DestinationPolicyTests {
    func address(_ text: String) -> IPAddress { IPAddress(dotted: text) ?? IPAddress(ipv6: Array(text.utf8))! }

    @Test func nonPublicAddressesAreRefusedWithWhatTheyAre() {
        let policy = DestinationPolicy()
        let cases: [(String, String?)] = [
            ("127.0.0.4", "a loopback address"), ("10.1.2.3", "a private address"),
            ("192.168.1.1", "a private address"), ("172.16.0.1", "a private address"),
            ("172.31.255.255", "a private address"), ("172.32.0.1", nil), ("100.64.0.1", "a shared (CGNAT) address"),
            ("100.128.0.1", nil), ("169.254.1.1", "a link-local address"), ("0.0.0.0", "an unspecified address"),
            ("224.0.0.1", "a multicast address"), ("192.0.2.7", "a documentation address"),
            ("198.51.100.1", "a documentation address"), ("203.0.113.9", "a documentation address"),
            ("255.255.255.255", "a reserved address"), ("8.8.8.8", nil), ("93.184.216.34", nil),
            ("::1", "a loopback address"), ("::", "an unspecified address"), ("fd00::25", "a private address"),
            ("fc00::1", "a private address"), ("fe80::1", "a link-local address"), ("ff02::1", "a multicast address"),
            ("2001:db8::1", "a documentation address"), ("::ffff:127.0.0.1", "a loopback address"),
            ("::ffff:10.0.0.1", "a private address"), ("2a00:1450::1", nil),
        ]
        for (text, what) in cases { #expect(policy.refusal(for: address(text)) == what, "\(text)") }
    }

    @Test func allowedRangesPass() throws {
        let ranges = try DestinationPolicy.parseAllowed("127.0.0.0/8, 10.0.0.5 fd00::/8").get()
        #expect(ranges.map(\.description) == ["127.0.0.0/8", "10.0.0.5/32", "fd00::/8"])
        let policy = DestinationPolicy(allowed: ranges)
        #expect(policy.refusal(for: address("127.0.0.4")) == nil)
        #expect(policy.refusal(for: address("::ffff:127.0.0.9")) == nil)
        #expect(policy.refusal(for: address("10.0.0.5")) == nil)
        #expect(policy.refusal(for: address("10.0.0.6")) == "a private address")
        #expect(policy.refusal(for: address("fd00::25")) == nil)
        #expect(policy.refusal(for: address("::1")) == "a loopback address")
        #expect(policy.filter.refusal(address("192.168.0.1")) == "a private address")
    }

    @Test func badRangesAreNamed() {
        for bad in ["10.0.0.0/33", "::1/129", "10.0.0/8", "example.com", "10.0.0.0/-1", "10.0.0.0/8/8"] {
            guard case .failure(let problem) = DestinationPolicy.parseAllowed("127.0.0.1," + bad) else {
                Issue.record("accepted \(bad)")
                continue
            }
            #expect(problem.text == bad)
        }
        #expect(AddressRange("0.0.0.0/0")?.contains(address("8.8.8.8")) == true)
        #expect(AddressRange("::/0")?.contains(address("8.8.8.8")) == false)
    }
}
