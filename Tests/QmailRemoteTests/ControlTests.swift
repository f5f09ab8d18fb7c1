// Control parsing without the file system: smtproutes lines and matching,
// host names, QMAILREMOTE_DNS, IPv4 literals, report bytes.

import Testing
@testable import QmailRemote

@Suite struct ControlTests {
    func routes(_ text: String) throws -> SMTPRoutes {
        try SMTPRoutes(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.utf8) })
    }

    @Test func routeMatchingOrder() throws {
        let table = try routes("x.test:1.1.1.1\n.b.test:2.2.2.2\n.a.b.test:3.3.3.3\n:4.4.4.4:26\n")
        #expect(table.route(for: Array("X.TEST".utf8))?.target == .address(IPAddress(1, 1, 1, 1)))
        #expect(table.route(for: Array("q.a.b.test".utf8))?.target == .address(IPAddress(3, 3, 3, 3)))
        #expect(table.route(for: Array("q.b.test".utf8))?.target == .address(IPAddress(2, 2, 2, 2)))
        #expect(table.route(for: Array("b.test".utf8))?.port == 26)
    }

    @Test func emptyRelayAndPorts() throws {
        let table = try routes("mx.test:\nnum.test:relay.test:2525junk\nzero.test:[5.6.7.8]:\n")
        #expect(table.route(for: Array("mx.test".utf8)) == Route(target: .mailExchangers, port: 25))
        #expect(table.route(for: Array("num.test".utf8)) == Route(target: .name(Array("relay.test".utf8)), port: 2525))
        #expect(table.route(for: Array("zero.test".utf8)) == Route(target: .address(IPAddress(5, 6, 7, 8)), port: 0))
        #expect(table.route(for: Array("other.test".utf8)) == nil)
    }

    @Test func malformedRoutesAreErrors() {
        #expect(throws: ControlError.self) { try routes("nocolon\n") }
        #expect(throws: ControlError.self) { try routes("a:b c\n") }
        #expect(throws: ControlError.self) { try routes("a:b:65536\n") }
    }

    @Test func hostNames() {
        for good in ["example.com", "EXAMPLE.com.", "a_b.c-d.test", "localhost", "1.2.3.4", "[1.2.3.4]"] {
            #expect(HostName.isDeliverable(Array(good.utf8)), "\(good)")
        }
        for bad in [
            "", ".", "a..b", "a b", "[1.2.3.4", "1.2.3.256", "x.123", String(repeating: "a", count: 64) + ".test",
        ] {
            #expect(!HostName.isDeliverable(Array(bad.utf8)), "\(bad)")
        }
    }

    @Test func dnsServerList() {
        #expect(DNSServerList.parse("127.0.0.1") == [DNSServer(address: IPAddress(127, 0, 0, 1), port: 53)])
        #expect(DNSServerList.parse("127.0.0.1:5353,10.0.0.1")?.map(\.port) == [5353, 53])
        for bad in ["", "x", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4,", "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4"] {
            #expect(DNSServerList.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func ipv4LiteralsAreStrict() {
        #expect(IPAddress(dotted: "10.0.0.255")?.description == "10.0.0.255")
        for bad in ["1.2.3", "1.2.3.4.5", "1..2.3", "01234.1.1.1", "1.2.3.4 ", "0x1.2.3.4"] {
            #expect(IPAddress(dotted: bad) == nil, "\(bad)")
        }
    }

    @Test func reportBytes() {
        let report = DeliveryReport(
            recipientReports: [Report(.recipientAccepted, [])],
            messageReport: Report(.messageAccepted, "1.2.3.4 accepted message.\n"))
        #expect(report.qmailBytes == Array("r\0K1.2.3.4 accepted message.\n\0".utf8))
    }

    @Test func noSuchHostShowsUnprintableBytesAsQuestionMarks() {
        let text = LocalFailure.noSuchHost([97, 32, 0x7f, 0xe9, 33, 126]).report.text
        #expect(text == Array("Sorry, I couldn't find any host named a???!~. (#5.1.2)\n".utf8))
    }
}
