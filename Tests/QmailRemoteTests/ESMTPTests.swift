// ESMTP pieces without sockets: EHLO keyword parsing, IPv6 literals and
// routes, the session over an in-memory connection in both modes, and the
// address order under each preference with a table resolver.

import Testing
@testable import QmailRemote

@Suite struct ESMTPTests {
    @Test func extensionsAreCaseInsensitiveWithParametersKept() {
        let reply = Reply(
            code: ReplyCode(value: 250),
            text: Array("250-mx.test hi\n250-pipelining\n250-SIZE 1000\n250-Auth PLAIN LOGIN\n250 8bitmime\n".utf8))
        let extensions = Extensions(ehloReply: reply)
        #expect(extensions.has("PIPELINING") && extensions.has("8BITMIME") && extensions.has("auth"))
        #expect(extensions.parameters(of: "AUTH") == "PLAIN LOGIN")
        #expect(extensions.sizeLimit == 1000)
        #expect(!extensions.has("MX.TEST"))
        #expect(
            Extensions(ehloReply: Reply(code: ReplyCode(value: 250), text: Array("250-x\n250 SIZE\n".utf8))).sizeLimit
                == nil)
    }

    @Test func ipv6Literals() {
        #expect(IPAddress(literal: Array("[IPv6:2001:db8::25]".utf8), ipv6: true)?.description == "2001:db8::25")
        #expect(IPAddress(literal: Array("2001:DB8:0:0::25".utf8), ipv6: true)?.description == "2001:db8::25")
        #expect(IPAddress(literal: Array("[::1]".utf8), ipv6: true)?.description == "::1")
        #expect(IPAddress(literal: Array("[IPv6:::1]".utf8), ipv6: false) == nil)
        for bad in ["[IPv6:1.2.3.4]", "[IPv6:]", "2001:db8::25::1", "[IPv6:fe80::1%eth0]", "12345::1"] {
            #expect(IPAddress(literal: Array(bad.utf8), ipv6: true) == nil, "\(bad)")
        }
        #expect(HostName.isDeliverable(Array("[IPv6:::1]".utf8), ipv6: true))
        #expect(!HostName.isDeliverable(Array("[IPv6:::1]".utf8), ipv6: false))
    }

    @Test func ipv6RelaysInRoutes() throws {
        let routes = try SMTPRoutes(
            lines: ["a.test:[2001:db8::1]:2525", "b.test:[IPv6:2001:db8::2]", ":[::1]"].map { Array($0.utf8) })
        #expect(
            routes.route(for: Array("a.test".utf8))
                == Route(target: .address(IPAddress(literal: Array("2001:db8::1".utf8), ipv6: true)!), port: 2525))
        #expect(routes.route(for: Array("b.test".utf8))?.port == 25)
        #expect(
            routes.route(for: Array("c.test".utf8))?.target
                == .address(IPAddress(literal: Array("::1".utf8), ipv6: true)!))
        #expect(throws: ControlError.self) { try SMTPRoutes(lines: [Array("a.test:[2001:db8::1]x".utf8)]) }
    }

    func session(_ recipients: [String], esmtp: Bool = true) -> SMTPSession {
        SMTPSession(
            ip: IPAddress(192, 0, 2, 1), helohost: Array("me.test".utf8), sender: Array("a@b".utf8),
            recipients: recipients.map { (Array($0.utf8), MailboxText.problem(in: Array($0.utf8))) }, esmtp: esmtp)
    }

    @Test func pipelinedCommandsGoOutInOneWrite() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250-x\r\n250 PIPELINING\r\n", "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "250 yes\r\n",
        ])
        let report = session(["u@x", "bad\n@x", "v@x"]).run(over: connection, message: BytesMessage("x\n"))
        #expect(report.recipientReports.map(\.letter) == [.recipientAccepted, .recipientRejected, .recipientAccepted])
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(connection.writes.count == 4)  // EHLO, MAIL+RCPT+RCPT+DATA, message+dot, QUIT
        #expect(connection.writes[1] == Array("MAIL FROM:<a@b>\r\nRCPT TO:<u@x>\r\nRCPT TO:<v@x>\r\nDATA\r\n".utf8))
    }

    @Test func lockStepWithoutPipelining() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250 x\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n",
        ])
        let report = session(["u@x"]).run(over: connection, message: BytesMessage("x\n"))
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(connection.writes.count == 6)
    }

    @Test func dataAcceptedWithoutRecipientsIsEndedAtOnce() {
        let connection = ScriptedConnection([
            "220 hi\r\n", "250-x\r\n250 PIPELINING\r\n", "250 ok\r\n550 no\r\n354 go\r\n", "554 empty\r\n",
        ])
        let report = session(["u@x"]).run(over: connection, message: BytesMessage("secret\n"))
        #expect(report.messageReport == RemoteReport.givingUp(ip: IPAddress(192, 0, 2, 1)))
        #expect(connection.writtenText.hasSuffix("DATA\r\n.\r\nQUIT\r\n"))
        #expect(!connection.writtenText.contains("secret"))
    }

    struct TableResolver: Resolver {
        var mx: [String: DNSAnswer<MXRecord>] = [:]
        var a: [String: DNSAnswer<IPAddress>] = [:]
        var aaaa: [String: DNSAnswer<IPAddress>] = [:]
        func mailExchangers(of name: [UInt8]) -> DNSAnswer<MXRecord> {
            mx[String(decoding: name, as: UTF8.self)] ?? .noSuchDomain
        }
        func ipv4Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
            a[String(decoding: name, as: UTF8.self)] ?? .noSuchDomain
        }
        func ipv6Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
            aaaa[String(decoding: name, as: UTF8.self)] ?? .noSuchDomain
        }
    }

    @Test(arguments: [AddressPreference.ipv4, .ipv6])
    func preferenceOrdersEachHost(preference: AddressPreference) throws {
        let v4 = IPAddress(192, 0, 2, 1), v6 = IPAddress(literal: Array("2001:db8::1".utf8), ipv6: true)!
        var resolver = TableResolver()
        resolver.mx["x.test"] = .records([MXRecord(preference: 10, exchange: Array("mx.x.test".utf8))])
        resolver.a["mx.x.test"] = .records([v4])
        resolver.aaaa["mx.x.test"] = .records([v6])
        let finder = MailExchangers(resolver: resolver, ipv6: true, preference: preference, localAddresses: { [] })
        let found = try finder.destinations(for: Array("x.test".utf8), route: nil).get().servers.map(\.address)
        #expect(found == (preference == .ipv4 ? [v4, v6] : [v6, v4]))
        let classic = MailExchangers(resolver: resolver, ipv6: false, localAddresses: { [] })
        #expect(try classic.destinations(for: Array("x.test".utf8), route: nil).get().servers.map(\.address) == [v4])
    }
}
