// Which host arguments may be delivered to: domain names, IPv4 literals, and
// IPv6 literals in ESMTP mode only.

import Testing

@testable import QmailRemote

@Suite struct HostNameTests {
    @Test func deliverableHosts() {
        for good in ["example.com", "EXAMPLE.com.", "a_b.c-d.test", "localhost", "1.2.3.4", "[1.2.3.4]"] {
            #expect(HostName.isDeliverable(Array(good.utf8)), "\(good)")
        }
        for bad in [
            "", ".", "a..b", "a b", "[1.2.3.4", "1.2.3.256", "x.123", String(repeating: "a", count: 64) + ".test",
            String(repeating: "a.", count: 127) + "ab",
        ] {
            #expect(!HostName.isDeliverable(Array(bad.utf8)), "\(bad)")
        }
    }

    @Test func ipv6LiteralsOnlyInESMTPMode() {
        #expect(HostName.isDeliverable(Array("[IPv6:::1]".utf8), ipv6: true))
        #expect(HostName.isDeliverable(Array("2001:db8::25".utf8), ipv6: true))
        #expect(!HostName.isDeliverable(Array("[IPv6:::1]".utf8), ipv6: false))
    }
}
