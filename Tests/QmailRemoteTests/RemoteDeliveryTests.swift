// RemoteDelivery through the connector seam with scripted connections: the
// checks before DNS, the MX loop, the tcpto table (skipping, recording,
// clearing), the plain-text retry under "may", SMTPS, and reuse from the
// cache with its failure cases. The end-to-end tests do the same for real.

import QmailSupport
import Testing

@testable import QmailRemote

#if canImport(Glibc)
import Glibc
#endif

@Suite struct RemoteDeliveryTests {
    let mx1 = IPAddress(192, 0, 2, 10)
    let mx2 = IPAddress(192, 0, 2, 20)
    let good = ["220 hi\r\n", "250 x\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n"]
    let directory: String

    init() {
        var template = Array("/tmp/remote-delivery-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    /// x.test has two MX hosts: mx1 (10), then mx2 (20).
    var resolver: TableResolver {
        var resolver = TableResolver()
        resolver.mx["x.test"] = .records([
            MXRecord(preference: 10, exchange: Array("mx1.test".utf8)),
            MXRecord(preference: 20, exchange: Array("mx2.test".utf8)),
        ])
        resolver.a["mx1.test"] = .records([mx1])
        resolver.a["mx2.test"] = .records([mx2])
        resolver.aaaa["mx1.test"] = .noRecords
        resolver.aaaa["mx2.test"] = .noRecords
        return resolver
    }

    func configuration(_ tlspolicy: [String] = [], routes: [String] = [], table: Bool = false) throws -> Configuration {
        var configuration = Configuration(helohost: Array("me.test".utf8))
        configuration.tlsPolicy = try TLSPolicy(lines: tlspolicy.map { Array($0.utf8) }, controlDirectory: "/c")
        configuration.routes = try SMTPRoutes(lines: routes.map { Array($0.utf8) })
        if table {
            let fd = open(directory + "/tcpto", O_RDWR | O_CREAT | O_TRUNC, 0o600)
            try Descriptor.writeAll([UInt8](repeating: 0, count: 1024), to: fd)
            close(fd)
            configuration.connectTimeouts = ConnectTimeoutTable(path: directory + "/tcpto")
        }
        return configuration
    }

    func deliver(
        _ connector: FakeConnector, _ configuration: Configuration, recipients: [String] = ["u@x.test"],
        message: some MessageSource = BytesMessage("Subject: s\n\nbody\n"), connections: ConnectionCache? = nil,
        proceed: (@Sendable (DeliveryStep) -> Bool)? = nil, filter: DestinationFilter? = nil
    ) -> DeliveryReport {
        RemoteDelivery.deliver(
            DeliveryRequest(
                host: Array("x.test".utf8), sender: Array("a@b.test".utf8),
                recipients: recipients.map { Array($0.utf8) },
                proceed: proceed, destinationFilter: filter),
            message: message, configuration: configuration, resolver: resolver, connector: connector,
            connections: connections, localAddresses: { [] })
    }

    func accepted(_ ip: IPAddress, _ text: String = "250 yes") -> Report {
        Report(.messageAccepted, "\(ip) accepted message.\nRemote host said: \(text)\n")
    }

    // MARK: before any connection

    @Test func badArgumentsNeverConnect() throws {
        let connector = FakeConnector()
        let configuration = try configuration()
        #expect(
            deliver(connector, configuration, recipients: ["a\n@x"]).messageReport
                == LocalFailure.noSendableRecipient.report)
        let longSender = RemoteDelivery.deliver(
            DeliveryRequest(
                host: Array("x.test".utf8), sender: Array(repeating: 97, count: 600), recipients: [Array("u@x".utf8)]),
            message: BytesMessage("x\n"), configuration: configuration, resolver: resolver, connector: connector,
            connections: nil, localAddresses: { [] })
        #expect(longSender.messageReport == LocalFailure.unsendableSender(.tooLong).report)
        #expect(connector.connects.isEmpty)
    }

    @Test func classicModeWithRequiredTLSKeepsMailWaiting() throws {
        let connector = FakeConnector()
        var configuration = try configuration(["x.test:encrypt"])
        configuration.esmtp = false
        #expect(deliver(connector, configuration).messageReport == LocalFailure.tlsNeedsESMTP.report)
        #expect(connector.connects.isEmpty)
    }

    // MARK: the destination filter

    @Test func filteredAddressesAreSkippedAndTheRestTried() throws {
        let connector = FakeConnector()
        connector.answer(mx2, .connection(ScriptedConnection(good)))
        let filter = DestinationFilter { [mx1] in $0 == mx1 ? "a private address" : nil }
        #expect(deliver(connector, try configuration(), filter: filter).messageReport == accepted(mx2))
        #expect(connector.connects == [mx2])
    }

    @Test func everyAddressRefusedIsAPermanentFailureWithoutAConnection() throws {
        let connector = FakeConnector()
        let filter = DestinationFilter { _ in "a documentation address" }
        let report = deliver(connector, try configuration(), filter: filter)
        #expect(
            report.messageReport == LocalFailure.destinationNotAllowed(mx1, reason: "a documentation address").report)
        #expect(
            report.messageReport.text
                == Array(
                    "Sorry, 192.0.2.10 is a documentation address, and the destination policy does not allow delivery there. (#5.7.1)\n"
                        .utf8))
        #expect(report.messageReport.letter == .messageFailed)
        #expect(connector.connects.isEmpty)
    }

    @Test func routesAreNeverFiltered() throws {
        let connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(good)))
        let filter = DestinationFilter { _ in "a loopback address" }
        let report = deliver(connector, try configuration(routes: ["x.test:192.0.2.10"]), filter: filter)
        #expect(report.messageReport == accepted(mx1))
        #expect(connector.connects == [mx1])
    }

    // MARK: the MX loop and tcpto

    @Test func mxHostsAreTriedInOrderUntilOneAnswers() throws {
        let connector = FakeConnector()
        connector.answer(mx1, .refused)
        connector.answer(mx2, .connection(ScriptedConnection(good)))
        let report = deliver(connector, try configuration())
        #expect(report.messageReport == accepted(mx2))
        #expect(connector.connects == [mx1, mx2])
    }

    @Test func onceConnectedThatConversationIsTheReport() throws {
        let connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(["421 busy\r\n"])))
        connector.answer(mx2, .connection(ScriptedConnection(good)))
        let report = deliver(connector, try configuration())
        #expect(report.messageReport.text.starts(with: Array("Connected to 192.0.2.10 but greeting failed.".utf8)))
        #expect(connector.connects == [mx1])
    }

    @Test func noServerAnswers() throws {
        let connector = FakeConnector()
        connector.answer(mx1, .refused)
        connector.answer(mx2, .timedOut)
        #expect(deliver(connector, try configuration()).messageReport == LocalFailure.noConnection.report)
    }

    @Test func timeOutsAreRecordedAndTwiceTimedOutAddressesSkipped() throws {
        let configuration = try configuration(table: true)
        let table = try #require(configuration.connectTimeouts)
        let connector = FakeConnector()
        connector.answer(mx1, .timedOut)
        connector.answer(mx2, .connection(ScriptedConnection(good)))
        #expect(deliver(connector, configuration).messageReport == accepted(mx2))
        #expect(table.verdict(for: mx1) == .timedOutBefore)
        // A second time-out more than two minutes later: skipped from then on.
        table.recordTimeout(mx1, now: ConnectTimeoutTable.now() &+ 200)
        #expect(table.verdict(for: mx1, now: ConnectTimeoutTable.now() &+ 201) == .skip)
        table.recordTimeout(mx1, now: ConnectTimeoutTable.now())
        let skipping = FakeConnector()
        skipping.answer(mx2, .connection(ScriptedConnection(good)))
        if table.verdict(for: mx1) == .skip {
            #expect(deliver(skipping, configuration).messageReport == accepted(mx2))
            #expect(skipping.connects == [mx2])
        }
    }

    @Test func aSuccessClearsEarlierTimeOuts() throws {
        let configuration = try configuration(table: true)
        let table = try #require(configuration.connectTimeouts)
        table.recordTimeout(mx1)
        #expect(table.verdict(for: mx1) == .timedOutBefore)
        let connector = FakeConnector()
        connector.answer(mx1, .connection(ScriptedConnection(good)))
        #expect(deliver(connector, configuration).messageReport == accepted(mx1))
        #expect(table.verdict(for: mx1) == .unknown)
    }

    // MARK: TLS

    let startTLS = ["220 hi\r\n", "250-x\r\n250 STARTTLS\r\n", "220 go\r\n"]

    @Test func failedHandshakeUnderMayIsRetriedInPlainTextOnANewConnection() throws {
        let connector = FakeConnector()
        connector.tls = nil
        let first = ScriptedConnection(startTLS)
        let second = ScriptedConnection([
            "220 hi\r\n", "250-x\r\n250 STARTTLS\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n",
        ])
        connector.answer(mx1, .connection(first))
        connector.answer(mx1, .connection(second))
        let report = deliver(connector, try configuration())
        #expect(report.messageReport == accepted(mx1))
        #expect(report.tls == nil)
        #expect(connector.connects == [mx1, mx1])
        #expect(connector.secured.map(\.level) == [.may])
        #expect(first.closed && !first.writtenText.contains("MAIL"))
        #expect(second.writtenText.hasPrefix("EHLO me.test\r\nMAIL FROM:<a@b.test>\r\n"))
    }

    @Test func failedHandshakeUnderEncryptIsTheReport() throws {
        let connector = FakeConnector()
        connector.tls = nil
        connector.answer(mx1, .connection(ScriptedConnection(startTLS)))
        let report = deliver(connector, try configuration(["x.test:encrypt"]))
        #expect(report.messageReport == LocalFailure.tlsHandshakeFailed(mx1, reason: "handshake failure").report)
        #expect(connector.connects == [mx1])
    }

    @Test func theCertificateIsCheckedAgainstTheMXName() throws {
        let connector = FakeConnector()
        connector.tls = FakeConnector.unverified
        connector.answer(mx1, .connection(ScriptedConnection(startTLS)))
        let report = deliver(connector, try configuration(["x.test:verify:ca.pem"]))
        #expect(connector.secured.first?.serverName == Array("mx1.test".utf8))
        #expect(connector.secured.first?.caFile == "/c/ca.pem")
        #expect(
            report.messageReport.text.starts(
                with: Array("Connected to 192.0.2.10 but its certificate for mx1.test was not verified".utf8)))
    }

    @Test func smtpsOnPort465() throws {
        let connector = FakeConnector()
        let relay = IPAddress(192, 0, 2, 46)
        connector.answer(relay, .connection(ScriptedConnection(good)))
        let report = deliver(connector, try configuration(routes: ["x.test:192.0.2.46:465"]))
        #expect(report.messageReport == accepted(relay))
        #expect(report.tls == FakeConnector.verified)
        #expect(connector.secured.map(\.implicit) == [true])
    }

    // MARK: reuse

    let keepable = ["220 hi\r\n", "250-x\r\n250 PIPELINING\r\n", "250 ok\r\n250 ok\r\n354 go\r\n", "250 one\r\n"]

    func cache(messages: Int = 100) -> ConnectionCache {
        ConnectionCache(idleTimeout: .seconds(60), messagesPerConnection: messages, connectionsPerDestination: 2)
    }

    /// A first delivery over `connection` to mx1, kept in a new cache.
    func kept(
        _ connection: any Connection, messages: Int = 100
    ) throws -> (ConnectionCache, FakeConnector, Configuration) {
        let connections = cache(messages: messages)
        let connector = FakeConnector()
        connector.answer(mx1, .connection(connection))
        let configuration = try configuration()
        #expect(!deliver(connector, configuration, connections: connections).reused)
        #expect(connections.idleConnections == 1)
        return (connections, connector, configuration)
    }

    @Test func aSecondDeliveryReusesTheConnection() throws {
        let connection = ScriptedConnection(keepable)
        let (connections, connector, configuration) = try kept(connection)
        defer { connections.closeAll() }
        #expect(!connection.closed && !connection.writtenText.hasSuffix("QUIT\r\n"))
        connection.add("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        connection.add("250 two\r\n")
        let second = deliver(connector, configuration, message: BytesMessage("second\n"), connections: connections)
        #expect(second.messageReport == accepted(mx1, "250 two") && second.reused)
        #expect(connector.connects == [mx1])
        #expect(
            connection.writtenText.hasSuffix(
                "RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\nsecond\r\n.\r\n"))
        #expect(connections.currentCounts == ConnectionCache.Counts(opened: 1, reused: 1))
    }

    @Test func aConnectionTheServerClosedIsNotUsed() throws {
        let old = ScriptedConnection(keepable)
        let (connections, connector, configuration) = try kept(old)
        defer { connections.closeAll() }
        old.peerClosed = true
        connector.answer(mx1, .connection(ScriptedConnection(good)))
        let report = deliver(connector, configuration, connections: connections)
        #expect(report.messageReport == accepted(mx1) && !report.reused)
        #expect(old.closed && old.writtenText.hasSuffix(".\r\n"))
        #expect(connector.connects == [mx1, mx1])
    }

    @Test func a421SentWhileIdleDropsTheConnectionUnused() throws {
        let old = ScriptedConnection(keepable)
        let (connections, connector, configuration) = try kept(old)
        defer { connections.closeAll() }
        let writtenBefore = old.written.count
        old.add("421 4.4.2 idle too long\r\n", unasked: true)
        let fresh = ScriptedConnection(good)
        connector.answer(mx1, .connection(fresh))
        let report = deliver(
            connector, configuration, message: BytesMessage("the only copy\n"), connections: connections)
        #expect(report.messageReport == accepted(mx1) && !report.reused)
        #expect(old.closed && old.written.count == writtenBefore)
        #expect(fresh.writtenText.contains("the only copy"))
    }

    @Test func aCachedConnectionThatDiesAtRSETCostsNothing() throws {
        for failure in ["421 4.4.2 closing\r\n", nil] {
            let old = DelayedScript(keepable)
            let (connections, connector, configuration) = try kept(old)
            defer { connections.closeAll() }
            old.afterNextWrite = failure
            let fresh = ScriptedConnection(good)
            connector.answer(mx1, .connection(fresh))
            let report = deliver(
                connector, configuration, message: BytesMessage("the only copy\n"), connections: connections)
            #expect(report.messageReport == accepted(mx1) && !report.reused)
            #expect(
                old.closed
                    && old.writtenText.hasSuffix("RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n"))
            #expect(!old.writtenText.contains("the only copy") && fresh.writtenText.contains("the only copy"))
            #expect(connections.currentCounts == ConnectionCache.Counts(opened: 2, reused: 0))
        }
    }

    @Test func aRecipientRejectedOnAReusedConnectionIsReportedAsOnAFreshOne() throws {
        let connection = ScriptedConnection(keepable)
        let (connections, connector, configuration) = try kept(connection)
        defer { connections.closeAll() }
        connection.add("250 reset\r\n250 ok\r\n550 5.1.1 no such user\r\n554 no valid recipients\r\n")
        let reused = deliver(connector, configuration, connections: connections)
        let fresh = FakeConnector()
        fresh.answer(
            mx1,
            .connection(
                ScriptedConnection([
                    "220 hi\r\n", "250-x\r\n250 PIPELINING\r\n",
                    "250 ok\r\n550 5.1.1 no such user\r\n554 no valid recipients\r\n",
                ])))
        let once = deliver(fresh, configuration)
        #expect(reused.reused && reused.qmailBytes == once.qmailBytes)
        #expect(connection.closed && connection.writtenText.hasSuffix("QUIT\r\n"))
    }

    @Test func theMessageLimitEndsAConnectionWithQUIT() throws {
        let connection = ScriptedConnection(keepable)
        let (connections, connector, configuration) = try kept(connection, messages: 2)
        defer { connections.closeAll() }
        connection.add("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        connection.add("250 two\r\n")
        #expect(deliver(connector, configuration, connections: connections).reused)
        #expect(connection.closed && connection.writtenText.hasSuffix(".\r\nQUIT\r\n"))
        #expect(connections.idleConnections == 0)
    }

    @Test func anotherPlanOrNameGetsItsOwnConnection() throws {
        let (connections, connector, configuration) = try kept(ScriptedConnection(keepable))
        defer { connections.closeAll() }
        var renamed = configuration
        renamed.helohost = Array("other.test".utf8)
        connector.answer(mx1, .connection(ScriptedConnection(good)))
        #expect(!deliver(connector, renamed, connections: connections).reused)
        connector.answer(mx1, .connection(ScriptedConnection(good)))
        #expect(!deliver(connector, try self.configuration(["x.test:none"]), connections: connections).reused)
        #expect(connector.connects == [mx1, mx1, mx1])
    }

    @Test func withReuseOffTheConnectionIsQuitAsAlways() throws {
        let connections = ConnectionCache(idleSeconds: 0)
        let connector = FakeConnector()
        let connection = ScriptedConnection(keepable)
        connector.answer(mx1, .connection(connection))
        _ = deliver(connector, try configuration(), connections: connections)
        #expect(connection.closed && connection.writtenText.hasSuffix(".\r\nQUIT\r\n"))
        #expect(connections.currentCounts == ConnectionCache.Counts(opened: 1, reused: 0))
    }

    @Test func proceedStopsADeliveryBeforeTheDot() throws {
        let connector = FakeConnector()
        let connection = ScriptedConnection(good)
        connector.answer(mx1, .connection(connection))
        let report = deliver(connector, try configuration(), proceed: { $0 != .finalDot })
        #expect(report.messageReport == LocalFailure.stoppedBeforeFinalDot.report)
        #expect(connection.writtenText.hasSuffix("DATA\r\n"))
    }
}

/// A scripted connection whose next reply is decided after the next write:
/// nil closes it (the server died), else that reply is sent.
final class DelayedScript: Connection, @unchecked Sendable {
    // @unchecked: used by one test thread at a time.
    private let script: ScriptedConnection
    var afterNextWrite: String??

    init(_ pieces: [String]) { script = ScriptedConnection(pieces) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        try script.read(into: buffer)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        try script.write(bytes)
        if let next = afterNextWrite {
            afterNextWrite = .none
            if let next { script.add(next) } else { script.peerClosed = true }
        }
    }

    var hasInputOrClosed: Bool { script.hasInputOrClosed }
    func close() { script.close() }
    var closed: Bool { script.closed }
    var writtenText: String { script.writtenText }
}
