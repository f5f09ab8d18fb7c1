// Finding the servers with a table resolver: routes, MX order and
// fallbacks, address preference, and the best-MX rule for this machine.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct MailExchangersTests {
    let v4 = IPAddress(192, 0, 2, 1)
    let v6 = IPAddress(literal: Array("2001:db8::1".utf8), ipv6: true)!

    func finder(
        _ resolver: TableResolver, ipv6: Bool = true, preference: AddressPreference = .any, local: Set<IPAddress> = []
    )
        -> MailExchangers
    {
        MailExchangers(resolver: resolver, ipv6: ipv6, preference: preference, localAddresses: { local })
    }

    @Test(arguments: [AddressPreference.ipv4, .ipv6])
    func preferenceOrdersEachHost(preference: AddressPreference) throws {
        var resolver = TableResolver()
        resolver.mx["x.test"] = .records([MXRecord(preference: 10, exchange: Array("mx.x.test".utf8))])
        resolver.a["mx.x.test"] = .records([v4])
        resolver.aaaa["mx.x.test"] = .records([v6])
        let found = try finder(resolver, preference: preference).destinations(for: Array("x.test".utf8), route: nil)
            .get()
        #expect(found.servers.map(\.address) == (preference == .ipv4 ? [v4, v6] : [v6, v4]))
        #expect(found.routed == false && found.port == 25)
        let classic = try finder(resolver, ipv6: false).destinations(for: Array("x.test".utf8), route: nil).get()
        #expect(classic.servers.map(\.address) == [v4])
    }

    @Test func mxOrderWithNamesForTLS() throws {
        var resolver = TableResolver()
        resolver.mx["x.test"] = .records([
            MXRecord(preference: 20, exchange: Array("b.test".utf8)),
            MXRecord(preference: 10, exchange: Array("a.test".utf8)),
            MXRecord(preference: 30, exchange: Array("gone.test".utf8)),
        ])
        resolver.a["a.test"] = .records([IPAddress(192, 0, 2, 10)])
        resolver.a["b.test"] = .records([IPAddress(192, 0, 2, 20)])
        resolver.aaaa["a.test"] = .noRecords
        resolver.aaaa["b.test"] = .noRecords
        let found = try finder(resolver).destinations(for: Array("x.test".utf8), route: nil).get()
        #expect(found.servers.map(\.address) == [IPAddress(192, 0, 2, 10), IPAddress(192, 0, 2, 20)])
        #expect(found.servers.map(\.name) == [Array("a.test".utf8), Array("b.test".utf8)])
    }

    @Test func thisMachineAmongTheMXKeepsOnlyBetterOnes() throws {
        var resolver = TableResolver()
        resolver.mx["x.test"] = .records([
            MXRecord(preference: 10, exchange: Array("a.test".utf8)),
            MXRecord(preference: 20, exchange: Array("me.test".utf8)),
        ])
        resolver.a["a.test"] = .records([IPAddress(192, 0, 2, 10)])
        resolver.a["me.test"] = .records([IPAddress(192, 0, 2, 99)])
        let found = try finder(resolver, ipv6: false, local: [IPAddress(192, 0, 2, 99)])
            .destinations(for: Array("x.test".utf8), route: nil).get()
        #expect(found.servers.map(\.address) == [IPAddress(192, 0, 2, 10)])
        let best = finder(resolver, ipv6: false, local: [IPAddress(192, 0, 2, 10)])
            .destinations(for: Array("x.test".utf8), route: nil)
        #expect(best == .failure(.listedAsBestMX))
    }

    @Test func routedRelays() throws {
        var resolver = TableResolver()
        resolver.a["relay.test"] = .records([v4])
        let byName = try finder(resolver, ipv6: false).destinations(
            for: Array("x.test".utf8), route: Route(target: .name(Array("relay.test".utf8)), port: 2525)
        ).get()
        #expect(
            byName
                == DestinationList(
                    servers: [Destination(address: v4, preference: 0, name: Array("relay.test".utf8))], port: 2525,
                    routed: true))
        let missing = finder(resolver).destinations(
            for: Array("x.test".utf8), route: Route(target: .name(Array("nowhere.test".utf8)), port: 25))
        #expect(missing == .failure(.noSuchHost(Array("nowhere.test".utf8))))
    }

    @Test func dnsFailures() {
        var resolver = TableResolver()
        resolver.mx["temp.test"] = .temporaryFailure
        #expect(
            finder(resolver).destinations(for: Array("temp.test".utf8), route: nil) == .failure(.temporaryDNSFailure))
        #expect(
            finder(resolver).destinations(for: Array("none.test".utf8), route: nil)
                == .failure(.noSuchHost(Array("none.test".utf8))))
        resolver.mx["null.test"] = .records([MXRecord(preference: 0, exchange: [])])
        #expect(finder(resolver).destinations(for: Array("null.test".utf8), route: nil) == .failure(.noMailExchanger))
    }
}

extension DestinationList: CustomStringConvertible {
    public var description: String { "\(servers.map(\.address)):\(port)\(routed ? " routed" : "")" }
}
