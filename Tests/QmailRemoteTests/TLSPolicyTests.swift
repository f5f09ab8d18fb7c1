// tlspolicy and route logins, parsed without files: levels, CA paths, the
// qmail TLS patch's directories, precedence, and credentials kept out of
// any description.

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

    @Test func routeLogins() throws {
        let routes = try SMTPRoutes(
            lines: [
                "a.test:relay.test:587 user pass", "b.test:relay.test|user|pa ss|insecure",
                "c.test:[::1]:2525 u p",
            ].map { Array($0.utf8) })
        let a = try #require(routes.route(for: Array("a.test".utf8)))
        #expect(a.port == 587 && a.credentials == Credentials(user: Array("user".utf8), password: Array("pass".utf8)))
        let b = try #require(routes.route(for: Array("b.test".utf8)))
        #expect(b.credentials?.password == Array("pa ss".utf8) && b.credentials?.allowWithoutTLS == true)
        #expect(routes.route(for: Array("c.test".utf8))?.port == 2525)
        #expect("\(a)".contains("redacted") && !"\(a)".contains("pass"))
        for bad in ["a.test:relay user", "a.test:relay user pass extra", "a.test: user pass", "a.test:relay||pass"] {
            #expect(throws: ControlError.self, "\(bad)") { try SMTPRoutes(lines: [Array(bad.utf8)]) }
        }
    }

    @Test func base64RoundTrip() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "\u{0}user\u{0}pass"] {
            let bytes = Array(text.utf8)
            #expect(Base64.decode(bytes: Base64.encode(bytes)) == bytes)
        }
        #expect(String(decoding: Base64.encode(Array("foobar".utf8)), as: UTF8.self) == "Zm9vYmFy")
    }
}
