// QMAILREMOTE_DNS: IP[:PORT] lists, at most three, and what is refused.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct DNSServerListTests {
    @Test func wellFormedLists() {
        #expect(DNSServerList.parse("127.0.0.1") == [DNSServer(address: IPAddress(127, 0, 0, 1), port: 53)])
        #expect(DNSServerList.parse("127.0.0.1:5353,10.0.0.1")?.map(\.port) == [5353, 53])
    }

    @Test(arguments: ["", "x", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4,", "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4"])
    func malformedLists(text: String) {
        #expect(DNSServerList.parse(text) == nil)
    }
}
