// control/smtproutes parsed without files: qmail's matching order, empty
// relays and ports, IPv6 relays in brackets, logins on routes (kept out of
// any description), and the lines that are errors.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct SMTPRoutesTests {
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
        #expect(throws: ControlError.self) { try routes("a:not_a host!\n") }
    }

    @Test func ipv6RelaysInBrackets() throws {
        let table = try routes("a.test:[2001:db8::1]:2525\nb.test:[IPv6:2001:db8::2]\n:[::1]")
        #expect(
            table.route(for: Array("a.test".utf8))
                == Route(target: .address(IPAddress(literal: Array("2001:db8::1".utf8), ipv6: true)!), port: 2525))
        #expect(table.route(for: Array("b.test".utf8))?.port == 25)
        #expect(
            table.route(for: Array("c.test".utf8))?.target
                == .address(IPAddress(literal: Array("::1".utf8), ipv6: true)!))
        #expect(throws: ControlError.self) { try routes("a.test:[2001:db8::1]x") }
    }

    @Test func loginsOnRoutes() throws {
        let table = try routes(
            "a.test:relay.test:587 user pass\nb.test:relay.test|user|pa ss|insecure\nc.test:[::1]:2525 u p")
        let a = try #require(table.route(for: Array("a.test".utf8)))
        #expect(a.port == 587 && a.credentials == Credentials(user: Array("user".utf8), password: Array("pass".utf8)))
        let b = try #require(table.route(for: Array("b.test".utf8)))
        #expect(b.credentials?.password == Array("pa ss".utf8) && b.credentials?.allowWithoutTLS == true)
        #expect(table.route(for: Array("c.test".utf8))?.port == 2525)
        #expect("\(a)".contains("redacted") && !"\(a)".contains("pass"))
    }

    @Test(arguments: ["a.test:relay user", "a.test:relay user pass extra", "a.test: user pass", "a.test:relay||pass"])
    func malformedLoginsAreErrors(line: String) {
        #expect(throws: ControlError.self) { try routes(line) }
    }
}
