// TLSPlanner through RemoteDelivery with scripted DNS and connections: what
// plan reaches the connector under dane and dane-only (TLSA records, the MX
// host as the name, insecure answers, failed lookups, the next MX), MTA-STS
// enforce and testing, DANE before MTA-STS, the next MX host or address when
// the TLS DANE or enforce requires fails (and qmail's first-conversation rule
// otherwise), and that without either nothing more is asked of DNS. The
// end-to-end tests do the same for real.

import QmailSupport
import Testing

@testable import QmailRemote

#if canImport(Glibc)
import Glibc
#endif

@Suite struct TLSPlannerTests {
    let mx1 = IPAddress(192, 0, 2, 10)
    let mx2 = IPAddress(192, 0, 2, 20)
    let record = TLSARecord(usage: 3, selector: 1, matchingType: 1, data: Array(repeating: 7, count: 32))
    let tls = ["220 hi\r\n", "250-x\r\n250 STARTTLS\r\n", "220 go\r\n"]
    let afterTLS = ["250 x\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n"]

    /// x.test: MX mx1 (10), mx2 (20), signed unless told; TLSA for mx1.
    func resolver(signed: Set<String> = ["x.test", "mx1.test", "mx2.test", "_25._tcp.mx1.test"]) -> TableResolver {
        var resolver = TableResolver()
        resolver.mx["x.test"] = .records([
            MXRecord(preference: 10, exchange: Array("mx1.test".utf8)),
            MXRecord(preference: 20, exchange: Array("mx2.test".utf8)),
        ])
        resolver.a["mx1.test"] = .records([mx1])
        resolver.a["mx2.test"] = .records([mx2])
        resolver.aaaa["mx1.test"] = .noRecords
        resolver.aaaa["mx2.test"] = .noRecords
        resolver.tlsa["_25._tcp.mx1.test"] = .records([record])
        resolver.tlsa["_25._tcp.mx2.test"] = .noRecords
        resolver.secure = signed
        return resolver
    }

    func configuration(_ tlspolicy: [String]) throws -> Configuration {
        var configuration = Configuration(helohost: Array("me.test".utf8))
        configuration.tlsPolicy = try TLSPolicy(lines: tlspolicy.map { Array($0.utf8) }, controlDirectory: "/c")
        return configuration
    }

    func deliver(
        _ connector: FakeConnector, _ configuration: Configuration, _ resolver: TableResolver,
        fetcher: ScriptedFetcher = ScriptedFetcher(.failure(PolicyFetchFailure(reason: "none")))
    ) -> DeliveryReport {
        RemoteDelivery.deliver(
            DeliveryRequest(
                host: Array("x.test".utf8), sender: Array("a@b.test".utf8), recipients: [Array("u@x.test".utf8)]),
            message: BytesMessage("Subject: s\n\nbody\n"), configuration: configuration, resolver: resolver,
            connector: connector, connections: nil, localAddresses: { [] }, policyFetcher: fetcher, now: { 1000 })
    }

    @Test func daneHandsTheRecordsAndTheMXNameToTheHandshake() throws {
        let connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(tls + afterTLS)))
        let report = deliver(connector, try configuration([":dane"]), resolver())
        #expect(report.messageReport.letter == .messageAccepted)
        let plan = try #require(connector.secured.first)
        #expect(plan.level == .dane && plan.tlsa == [record] && plan.serverName == Array("mx1.test".utf8))
        #expect(plan.source == .dane && plan.caFile == nil)
        #expect(report.tls?.policy == .dane)
    }

    @Test func daneRefusesACertificateThatMatchesNoRecord() throws {
        let connector = FakeConnector()
        connector.tls = FakeConnector.unverified
        let connection = ScriptedConnection(tls)
        connector.answer(mx1, .connection(connection))
        let report = deliver(connector, try configuration([":dane"]), resolver())
        #expect(
            report.messageReport
                == LocalFailure.noTLSAMatch(mx1, name: Array("mx1.test".utf8), reason: "self-signed certificate")
                .report)
        #expect(connection.writtenText == "EHLO me.test\r\nSTARTTLS\r\nQUIT\r\n")
    }

    @Test func insecureMXIsMayUnderDaneAndRefusedUnderDaneOnly() throws {
        var connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(tls + afterTLS)))
        var report = deliver(
            connector, try configuration([":dane"]), resolver(signed: ["mx1.test", "_25._tcp.mx1.test"]))
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(connector.secured.first?.level == .may)
        connector = FakeConnector()
        report = deliver(connector, try configuration([":dane-only"]), resolver(signed: ["mx1.test"]))
        #expect(report.messageReport == LocalFailure.daneInsecure(Array("mx2.test".utf8)).report)
        #expect(connector.connects.isEmpty)
    }

    @Test func failedTLSALookupSkipsToTheNextMX() throws {
        var dns = resolver()
        dns.tlsa["_25._tcp.mx1.test"] = .temporaryFailure
        let connector = FakeConnector()
        connector.answer(mx2, .connection(ScriptedConnection(tls + afterTLS)))
        let report = deliver(connector, try configuration([":dane"]), dns)
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(connector.connects == [mx2])
        #expect(connector.secured.first?.level == .may, "mx2 has no TLSA: as may")
        // dane-only: mx2 has no usable records either.
        let refused = FakeConnector()
        #expect(
            deliver(refused, try configuration([":dane-only"]), dns).messageReport
                == LocalFailure.noUsableTLSA(Array("mx2.test".utf8)).report)
        #expect(refused.connects.isEmpty)
    }

    @Test func tlsaIsAskedOncePerHost() throws {
        var dns = resolver()
        dns.a["mx1.test"] = .records([mx1, IPAddress(192, 0, 2, 11)])
        let connector = FakeConnector()
        _ = deliver(connector, try configuration([":dane"]), dns)
        #expect(dns.questions.all.filter { $0 == "TLSA+DO _25._tcp.mx1.test" }.count == 1)
    }

    @Test func withoutDaneOrMTASTSNothingMoreIsAsked() throws {
        let dns = resolver()
        let connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(tls + afterTLS)))
        _ = deliver(connector, try configuration([]), dns)
        #expect(dns.questions.all == ["MX x.test", "A mx1.test", "AAAA mx1.test", "A mx2.test", "AAAA mx2.test"])
        #expect(connector.secured.first?.source == .opportunistic)
    }

    func stsResolver(_ id: String = "1") -> TableResolver {
        var dns = resolver(signed: [])
        dns.txt["_mta-sts.x.test"] = .records([Array("v=STSv1; id=\(id)".utf8)])
        dns.a["mta-sts.x.test"] = .records([IPAddress(192, 0, 2, 80)])
        return dns
    }

    func stsConfiguration(_ tlspolicy: [String] = []) throws -> Configuration {
        var configuration = try configuration(tlspolicy)
        configuration.mtasts = true
        configuration.mtastsCAFile = "/c/mtastscafile"
        var template = Array("/tmp/planner-test-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        configuration.mtastsCache = MTASTSCache(directory: directory)
        return configuration
    }

    @Test func enforceSkipsHostsNotInThePolicyAndVerifiesTheRest() throws {
        let fetcher = ScriptedFetcher(
            .success(Array("version: STSv1\nmode: enforce\nmx: mx2.test\nmax_age: 100\n".utf8)))
        let connector = FakeConnector()
        connector.answer(mx2, .connection(ScriptedConnection(tls + afterTLS)))
        let report = deliver(connector, try stsConfiguration(), stsResolver(), fetcher: fetcher)
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(connector.connects == [mx2])
        let plan = try #require(connector.secured.first)
        #expect(plan.level == .verify && plan.caFile == "/c/mtastscafile" && plan.source == .mtaSTS)
        #expect(report.tls?.policy == .mtaSTS)
    }

    @Test func enforceWithNoHostAllowed() throws {
        let fetcher = ScriptedFetcher(
            .success(Array("version: STSv1\nmode: enforce\nmx: other.test\nmax_age: 100\n".utf8)))
        let connector = FakeConnector()
        let report = deliver(connector, try stsConfiguration(), stsResolver(), fetcher: fetcher)
        #expect(
            report.messageReport
                == LocalFailure.notInMTASTSPolicy(Array("mx2.test".utf8), domain: Array("x.test".utf8)).report)
        #expect(connector.connects.isEmpty)
    }

    @Test func testingNotesWhatWouldHaveFailed() throws {
        let fetcher = ScriptedFetcher(
            .success(Array("version: STSv1\nmode: testing\nmx: mx1.test\nmax_age: 100\n".utf8)))
        let connector = FakeConnector()
        connector.answer(
            mx1, .connection(ScriptedConnection(["220 hi\r\n", "250 x\r\n"] + Array(afterTLS.dropFirst()))))
        let report = deliver(connector, try stsConfiguration(), stsResolver(), fetcher: fetcher)
        #expect(
            report.messageReport
                == Report(
                    .messageAccepted,
                    "192.0.2.10 accepted message.\nRemote host said: 250 yes\nMTA-STS policy of x.test (testing) would have refused this: it does not offer STARTTLS.\n"
                ))
    }

    // MARK: the next MX when the required TLS fails (RFC 7672 2.2, RFC 8461 5)

    @Test func aCertificateMatchingNoTLSARecordSendsTheDeliveryOnToTheNextMX() throws {
        let connector = FakeConnector()
        connector.tls = FakeConnector.unverified
        let first = ScriptedConnection(tls)
        connector.answer(mx1, .connection(first))
        connector.answer(mx2, .connection(ScriptedConnection(tls + afterTLS)))
        let report = deliver(connector, try configuration([":dane"]), resolver())
        #expect(
            report.messageReport
                == Report(.messageAccepted, "192.0.2.20 accepted message.\nRemote host said: 250 yes\n"))
        #expect(connector.connects == [mx1, mx2])
        #expect(first.writtenText == "EHLO me.test\r\nSTARTTLS\r\nQUIT\r\n", "nothing of the message to mx1")
        #expect(connector.secured.map(\.level) == [.dane, .may], "mx2 has no TLSA records: as may")
    }

    @Test func enforceGoesOnToTheNextMXWhenTLSFailsAndReportsTheLastRefusal() throws {
        let fetcher = ScriptedFetcher(
            .success(Array("version: STSv1\nmode: enforce\nmx: *.test\nmax_age: 100\n".utf8)))
        var connector = FakeConnector()
        let plain = ScriptedConnection(["220 hi\r\n", "250 x\r\n"])
        connector.answer(mx1, .connection(plain))
        connector.answer(mx2, .connection(ScriptedConnection(tls + afterTLS)))
        var report = deliver(connector, try stsConfiguration(), stsResolver(), fetcher: fetcher)
        #expect(report.messageReport.letter == .messageAccepted && report.tls?.policy == .mtaSTS)
        #expect(connector.connects == [mx1, mx2])
        #expect(plain.writtenText == "EHLO me.test\r\nQUIT\r\n")
        // Neither host offers STARTTLS: the last refusal is the report.
        connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(["220 hi\r\n", "250 x\r\n"])))
        connector.answer(mx2, .connection(ScriptedConnection(["220 hi\r\n", "250 x\r\n"])))
        report = deliver(connector, try stsConfiguration(), stsResolver(), fetcher: fetcher)
        #expect(
            report.messageReport
                == LocalFailure.startTLSNotOfferedUnderPolicy(mx2, .mtaSTS(Array("x.test".utf8))).report)
        #expect(connector.connects == [mx1, mx2])
    }

    @Test func underTlspolicyTheFirstConversationIsStillTheReport() throws {
        let connector = FakeConnector()
        connector.tls = FakeConnector.unverified
        connector.answer(mx1, .connection(ScriptedConnection(tls)))
        connector.answer(mx2, .connection(ScriptedConnection(tls + afterTLS)))
        let report = deliver(connector, try configuration(["x.test:verify"]), resolver())
        #expect(
            report.messageReport
                == LocalFailure.certificateNotVerified(
                    mx1, name: Array("mx1.test".utf8), reason: "self-signed certificate"
                ).report)
        #expect(connector.connects == [mx1], "qmail's rule: once connected, that conversation is the report")
    }

    @Test func aRefusalStandsWhenTheNextMXCannotBeReached() throws {
        for next in [FakeConnector.Answer.timedOut, .refused] {
            let connector = FakeConnector()
            connector.tls = FakeConnector.unverified
            connector.answer(mx1, .connection(ScriptedConnection(tls)))
            connector.answer(mx2, next)
            let report = deliver(connector, try configuration([":dane"]), resolver())
            #expect(
                report.messageReport
                    == LocalFailure.noTLSAMatch(mx1, name: Array("mx1.test".utf8), reason: "self-signed certificate")
                    .report, "\(next), not \"no connection\"")
            #expect(connector.connects == [mx1, mx2])
        }
    }

    @Test func theNextAddressOfTheSameHostIsTriedToo() throws {
        var dns = resolver()
        let other = IPAddress(192, 0, 2, 11)
        dns.a["mx1.test"] = .records([mx1, other])
        let connector = FakeConnector()
        let plain = ScriptedConnection(["220 hi\r\n", "502 no EHLO\r\n"])
        connector.answer(mx1, .connection(plain))
        connector.answer(other, .connection(ScriptedConnection(tls + afterTLS)))
        let report = deliver(connector, try configuration([":dane-only"]), dns)
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(connector.connects == [mx1, other])
        #expect(plain.writtenText == "EHLO me.test\r\nQUIT\r\n", "no HELO: it has no STARTTLS")
        #expect(connector.secured.map(\.level) == [.dane] && report.tls?.policy == .dane)
    }

    @Test func aFailedHandshakeUnderDANEGoesOnAndMayStillFallsBackToPlainText() throws {
        let connector = FakeConnector()
        connector.tls = nil
        let first = ScriptedConnection(tls)
        connector.answer(mx1, .connection(first))
        // mx2 has no TLSA records (as may): its failed handshake is retried in plain text.
        connector.answer(mx2, .connection(ScriptedConnection(tls)))
        connector.answer(mx2, .connection(ScriptedConnection(["220 hi\r\n"] + afterTLS)))
        let report = deliver(connector, try configuration([":dane"]), resolver())
        #expect(
            report.messageReport
                == Report(.messageAccepted, "192.0.2.20 accepted message.\nRemote host said: 250 yes\n"))
        #expect(connector.connects == [mx1, mx2, mx2])
        #expect(connector.secured.map(\.level) == [.dane, .may])
        #expect(first.writtenText == "EHLO me.test\r\nSTARTTLS\r\n" && first.closed, "closed, no QUIT in the clear")
    }

    @Test func onceTheNextMXConversesItsAnswerIsTheReportEvenARefusal() throws {
        let connector = FakeConnector()
        connector.tls = FakeConnector.unverified
        connector.answer(mx1, .connection(ScriptedConnection(tls)))
        let second = ScriptedConnection(tls + ["250 x\r\n", "550 no such sender\r\n"])
        connector.answer(mx2, .connection(second))
        let report = deliver(connector, try configuration([":dane"]), resolver())
        #expect(report.messageReport.letter == .messageFailed)
        #expect(connector.connects == [mx1, mx2], "no more servers after a conversation that started")
        #expect(second.writtenText.hasSuffix("MAIL FROM:<a@b.test>\r\nQUIT\r\n"))
    }

    @Test func aRefusedServersConnectionIsNotKeptForTheGateway() throws {
        let connections = ConnectionCache(
            idleTimeout: .seconds(60), messagesPerConnection: 100, connectionsPerDestination: 2)
        defer { connections.closeAll() }
        let connector = FakeConnector()
        connector.tls = FakeConnector.unverified
        let first = ScriptedConnection(tls)
        let second = ScriptedConnection(tls + afterTLS)
        connector.answer(mx1, .connection(first))
        connector.answer(mx2, .connection(second))
        let report = RemoteDelivery.deliver(
            DeliveryRequest(
                host: Array("x.test".utf8), sender: Array("a@b.test".utf8), recipients: [Array("u@x.test".utf8)]),
            message: BytesMessage("Subject: s\n\nbody\n"), configuration: try configuration([":dane"]),
            resolver: resolver(), connector: connector, connections: connections, localAddresses: { [] },
            policyFetcher: ScriptedFetcher(.failure(PolicyFetchFailure(reason: "none"))), now: { 1000 })
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(first.closed && first.writtenText.hasSuffix("QUIT\r\n"))
        #expect(!second.closed && connections.idleConnections == 1, "mx2's connection waits for the next message")
        #expect(connections.currentCounts.opened == 2)
    }

    @Test func explicitTlspolicyAndDaneComeFirst() throws {
        let fetcher = ScriptedFetcher(
            .success(Array("version: STSv1\nmode: enforce\nmx: nothing.test\nmax_age: 100\n".utf8)))
        var connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(tls + afterTLS)))
        _ = deliver(connector, try stsConfiguration(["x.test:encrypt"]), stsResolver(), fetcher: fetcher)
        #expect(fetcher.calls == 0 && connector.secured.first?.source == .tlspolicy)
        // dane: mx1's records decide, the policy (which names neither host) only mx2.
        var dns = stsResolver()
        dns.secure = ["x.test", "mx1.test", "mx2.test", "_25._tcp.mx1.test"]
        connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(tls + afterTLS)))
        let report = deliver(connector, try stsConfiguration([":dane"]), dns, fetcher: fetcher)
        #expect(report.messageReport.letter == .messageAccepted && connector.secured.first?.source == .dane)
    }
}
