// tlspolicy parsed without files: levels, CA paths, the qmail TLS patch's
// directories and precedence; and the TLS plan made from it per server.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct TLSPolicyTests {
    func policy(_ lines: [String], tlsHosts: [String] = [], noTLSHosts: [String] = []) throws -> TLSPolicy {
        try TLSPolicy(
            lines: lines.map { Array($0.utf8) }, controlDirectory: "/c",
            tlsHosts: tlsHosts.map { Array($0.utf8) }, noTLSHosts: noTLSHosts.map { Array($0.utf8) })
    }

    @Test func levelsAndCAFiles() throws {
        let table = try policy([
            "a.test:verify:ca.pem", ".b.test:encrypt", "c.test:none", ":may:/etc/ca.pem", "# comment",
        ])
        #expect(
            table.requirement(host: Array("A.test".utf8), serverName: [])
                == TLSRequirement(level: .verify, caFile: "/c/ca.pem"))
        #expect(table.requirement(host: Array("x.b.test".utf8), serverName: []).level == .encrypt)
        #expect(table.requirement(host: Array("c.test".utf8), serverName: []).level == .none)
        #expect(
            table.requirement(host: Array("d.test".utf8), serverName: [])
                == TLSRequirement(level: .may, caFile: "/etc/ca.pem"))
    }

    @Test func qmailTLSPatchFilesAndPrecedence() throws {
        let table = try policy(
            ["x.test:encrypt"], tlsHosts: ["MX.Secure.test.pem", "readme"], noTLSHosts: ["mx.plain.test"])
        #expect(
            table.requirement(host: Array("y.test".utf8), serverName: Array("mx.secure.test".utf8))
                == TLSRequirement(level: .verify, caFile: "/c/tlshosts/MX.Secure.test.pem"))
        #expect(table.requirement(host: Array("y.test".utf8), serverName: Array("mx.plain.test".utf8)).level == .none)
        #expect(
            table.requirement(host: Array("x.test".utf8), serverName: Array("mx.secure.test".utf8)).level == .encrypt)
        #expect(table.requirement(host: Array("y.test".utf8), serverName: Array("other.test".utf8)).level == .may)
    }

    @Test func badLinesAreErrors() {
        for bad in ["x.test", "x.test:sometimes", "x.test:"] {
            #expect(throws: ControlError.self) { try policy([bad]) }
        }
    }

    @Test func planPerServer() throws {
        var configuration = Configuration(helohost: Array("me.test".utf8))
        configuration.tlsPolicy = try policy(["x.test:verify:ca.pem"])
        configuration.clientCertificate = "/c/clientcert.pem"
        let server = Destination(address: IPAddress(192, 0, 2, 1), preference: 0, name: Array("mx.x.test".utf8))
        let plan = try TLSPlan.plan(for: server, host: Array("x.test".utf8), port: 25, configuration: configuration)
            .get()
        var expected = TLSPlan(
            level: .verify, caFile: "/c/ca.pem", serverName: Array("mx.x.test".utf8), implicit: false,
            clientCertificate: "/c/clientcert.pem")
        expected.source = .tlspolicy
        #expect(plan == expected)
        let smtps = try TLSPlan.plan(for: server, host: Array("y.test".utf8), port: 465, configuration: configuration)
            .get()
        #expect(smtps.implicit && smtps.level == .may && smtps.source == .opportunistic)
    }

    @Test func classicModeNeverPlansTLSAndRefusesWhenRequired() throws {
        var configuration = Configuration(helohost: Array("me.test".utf8), esmtp: false)
        configuration.tlsPolicy = try policy(["x.test:encrypt"])
        let server = Destination(address: IPAddress(192, 0, 2, 1), preference: 0, name: [])
        #expect(
            TLSPlan.plan(for: server, host: Array("x.test".utf8), port: 25, configuration: configuration)
                == .failure(.tlsNeedsESMTP))
        let other = try TLSPlan.plan(for: server, host: Array("y.test".utf8), port: 465, configuration: configuration)
            .get()
        #expect(other.level == .none && !other.implicit)
    }
}
