// RemoteDelivery with control/dkimdomains: the signature goes out in front
// of the message on the wire (dot-stuffing and line endings as always), the
// report says what was signed, and a bad key keeps the mail waiting before
// any DNS or connection, with the diagnostic for stderr.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct SignedDeliveryTests {
    let mx = IPAddress(192, 0, 2, 10)
    let good = ["220 hi\r\n", "250 x\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 yes\r\n"]

    var resolver: TableResolver {
        var resolver = TableResolver()
        resolver.mx["x.test"] = .records([MXRecord(preference: 10, exchange: Array("mx.test".utf8))])
        resolver.a["mx.test"] = .records([mx])
        resolver.aaaa["mx.test"] = .noRecords
        return resolver
    }

    func configuration(keys: [(dir: String, selector: String, key: String)], lines: [String]) throws -> Configuration {
        let control = TestKeys.controlDirectory(keys: keys)
        var configuration = Configuration(helohost: Array("me.test".utf8))
        configuration.dkimDomains = try DKIMDomains(
            lines: lines.map { Array($0.utf8) }, file: control + "/dkimdomains", keyDirectory: control + "/dkimkeys")
        return configuration
    }

    func deliver(
        _ connector: FakeConnector, _ configuration: Configuration, _ message: String, sender: String = "me@example.com"
    ) -> DeliveryReport {
        RemoteDelivery.deliver(
            DeliveryRequest(
                host: Array("x.test".utf8), sender: Array(sender.utf8), recipients: [Array("u@x.test".utf8)]),
            message: RereadableBytes(message), configuration: configuration, resolver: resolver, connector: connector,
            connections: nil, localAddresses: { [] })
    }

    @Test func theSignatureLeadsTheDataAndTheReportNamesIt() throws {
        let connection = ScriptedConnection(good)
        let connector = FakeConnector()
        connector.answer(mx, .connection(connection))
        let configuration = try configuration(
            keys: [("example.com", "sel", "ed25519")], lines: ["example.com:sel"])
        let report = deliver(connector, configuration, "From: me@example.com\n\n.dot\n")
        #expect(report.messageReport.letter == .messageAccepted)
        #expect(
            report.signatures == [
                DKIMSignatureSummary(domain: "example.com", selector: "sel", algorithm: "ed25519-sha256")
            ])
        #expect(report.diagnostic == nil)
        let data = connection.writtenText.components(separatedBy: "DATA\r\n")[1]
        #expect(data.hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n\t"))
        #expect(data.hasSuffix("\r\nFrom: me@example.com\r\n\r\n..dot\r\n.\r\nQUIT\r\n"))
    }

    @Test func anUnsignedMessageGoesOutAsBefore() throws {
        let connection = ScriptedConnection(good)
        let connector = FakeConnector()
        connector.answer(mx, .connection(connection))
        let configuration = try configuration(keys: [], lines: ["example.com:sel"])
        let report = deliver(connector, configuration, "From: a@other.test\n\nx\n", sender: "a@other.test")
        #expect(report.messageReport.letter == .messageAccepted && report.signatures.isEmpty)
        #expect(connection.writtenText.hasSuffix("DATA\r\nFrom: a@other.test\r\n\r\nx\r\n.\r\nQUIT\r\n"))
    }

    @Test func aBadKeyWaitsBeforeAnyConnection() throws {
        let connector = FakeConnector()
        let configuration = try configuration(keys: [("example.com", "sel", "ec")], lines: ["example.com:sel"])
        let report = deliver(connector, configuration, "From: me@example.com\n\nx\n")
        #expect(report.messageReport == LocalFailure.unreadableControlFiles.report)
        #expect(
            report.diagnostic?.hasSuffix(
                "/example.com/sel is neither an RSA nor an Ed25519 key (\(configuration.dkimDomains!.file) line 1)")
                == true)
        #expect(connector.connects.isEmpty)
    }

    @Test func badArgumentsAreRefusedBeforeSigning() throws {
        let connector = FakeConnector()
        let configuration = try configuration(keys: [], lines: ["example.com:sel"])
        let report = RemoteDelivery.deliver(
            DeliveryRequest(
                host: Array("x.test".utf8), sender: Array("me@example.com".utf8), recipients: [Array("a\n@x".utf8)]),
            message: RereadableBytes("From: me@example.com\n\nx\n"), configuration: configuration, resolver: resolver,
            connector: connector, connections: nil, localAddresses: { [] })
        #expect(report.messageReport == LocalFailure.noSendableRecipient.report && report.diagnostic == nil)
    }
}
