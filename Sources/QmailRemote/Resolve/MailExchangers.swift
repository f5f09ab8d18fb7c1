// Finds the addresses to try for a host, in order: the route's relay, or MX
// records (lowest preference first, equal preferences shuffled) falling back to
// the host's own addresses, then the rule that drops this machine and
// everything not better than it. In ESMTP mode each name has A and AAAA
// records, ordered by control/addresspreference; classic mode is IPv4 only.
// The outcome is the servers to try, or the one report to print.

import QmailSupport

struct Destination: Sendable, Equatable {
    let address: IPAddress
    let preference: Int
    /// The server's name, for TLS (SNI, the certificate check, tlshosts):
    /// the MX host, the relay, the host itself, or an address's text.
    let name: [UInt8]

    init(address: IPAddress, preference: Int, name: [UInt8]) {
        self.address = address
        self.preference = preference
        self.name = name
    }
}

/// The servers to try in order, the port, and whether smtproutes chose the
/// relay (a relay is the installation's choice, not DNS's).
struct DestinationList: Sendable, Equatable {
    var servers: [Destination]
    var port: UInt16
    var routed: Bool
}

struct MailExchangers {
    let resolver: any Resolver
    let localAddresses: () -> Set<IPAddress>?
    /// A and AAAA (ESMTP mode), or A only (classic).
    let ipv6: Bool
    let preference: AddressPreference

    init(
        resolver: any Resolver, ipv6: Bool = false, preference: AddressPreference = .any,
        localAddresses: @escaping () -> Set<IPAddress>? = LocalAddresses.current
    ) {
        self.resolver = resolver
        self.localAddresses = localAddresses
        self.ipv6 = ipv6
        self.preference = preference
    }

    /// Servers to try with their port, or the failure to report.
    func destinations(for host: [UInt8], route: Route?) -> Result<DestinationList, LocalFailure> {
        if let route {
            switch route.target {
            case .address(let address):
                let server = Destination(address: address, preference: 0, name: Array(address.description.utf8))
                if usable([address]).isEmpty { return .failure(.noMailExchanger) }
                return .success(DestinationList(servers: [server], port: route.port, routed: true))
            case .name(let name):
                return relayAddresses(name).map {
                    DestinationList(
                        servers: $0.map { Destination(address: $0, preference: 0, name: name) }, port: route.port,
                        routed: true)
                }
            case .mailExchangers: break
            }
        }
        let port = route?.port ?? 25
        let found: Result<[Destination], LocalFailure>
        if let literal = IPAddress(literal: host, ipv6: ipv6) {
            found = .success([Destination(address: literal, preference: 0, name: Array(literal.description.utf8))])
        } else {
            found = lookUpMailExchangers(host)
        }
        return found.flatMap(dropLocal).map { DestinationList(servers: $0, port: port, routed: false) }
    }

    private func usable(_ addresses: [IPAddress]) -> [IPAddress] {
        ipv6 ? addresses : addresses.filter { $0.family == .v4 }
    }

    /// A relay name: its own addresses only, never MX.
    private func relayAddresses(_ name: [UInt8]) -> Result<[IPAddress], LocalFailure> {
        switch addresses(of: name) {
        case .records(let addresses): return .success(addresses)
        case .noSuchDomain, .noRecords: return .failure(.noSuchHost(name))
        case .temporaryFailure: return .failure(.temporaryDNSFailure)
        }
    }

    /// The addresses of one name: A, and AAAA in ESMTP mode, in the preferred
    /// order. A failure of one kind never hides a good answer of the other.
    func addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
        let v4 = resolver.ipv4Addresses(of: name)
        guard ipv6 else { return v4 }
        let v6 = resolver.ipv6Addresses(of: name)
        var four: [IPAddress] = [], six: [IPAddress] = []
        if case .records(let found) = v4 { four = found }
        if case .records(let found) = v6 { six = found }
        if four.isEmpty && six.isEmpty {
            if case .temporaryFailure = v4 { return .temporaryFailure }
            if case .temporaryFailure = v6 { return .temporaryFailure }
            if case .noSuchDomain = v4 { return .noSuchDomain }
            if case .noSuchDomain = v6 { return .noSuchDomain }
            return .noRecords
        }
        switch preference {
        case .ipv4: return .records(four + six)
        case .ipv6: return .records(six + four)
        case .any: return .records(Bool.random() ? four + six : six + four)
        }
    }

    private func lookUpMailExchangers(_ host: [UInt8]) -> Result<[Destination], LocalFailure> {
        let records: [MXRecord]
        switch resolver.mailExchangers(of: host) {
        case .records(let found): records = found
        case .noSuchDomain: return .failure(.noSuchHost(host))
        case .temporaryFailure: return .failure(.temporaryDNSFailure)
        case .noRecords:
            switch addresses(of: host) {
            case .records(let found): return .success(found.map { Destination(address: $0, preference: 0, name: host) })
            case .noSuchDomain, .noRecords: return .failure(.noSuchHost(host))
            case .temporaryFailure: return .failure(.temporaryDNSFailure)
            }
        }
        var generator = SystemRandomNumberGenerator()
        let ordered =
            records
            .map { (record: $0, tie: generator.next() as UInt64) }
            .sorted { ($0.record.preference, $0.tie) < ($1.record.preference, $1.tie) }
            .map(\.record)
        var destinations: [Destination] = []
        var sawTemporaryFailure = false
        for record in ordered where !record.exchange.isEmpty {
            switch addresses(of: record.exchange) {
            case .records(let addresses):
                destinations += addresses.map {
                    Destination(address: $0, preference: record.preference, name: record.exchange)
                }
            case .temporaryFailure: sawTemporaryFailure = true
            case .noSuchDomain, .noRecords: continue
            }
        }
        if destinations.isEmpty { return .failure(sawTemporaryFailure ? .temporaryDNSFailure : .noMailExchanger) }
        return .success(destinations)
    }

    /// qmail's rule: when this machine is among the destinations, only those
    /// with a strictly better preference than its best one are kept.
    private func dropLocal(_ destinations: [Destination]) -> Result<[Destination], LocalFailure> {
        guard let local = localAddresses() else { return .failure(.resourcesUnavailable) }
        guard let best = destinations.filter({ local.contains($0.address) }).map(\.preference).min() else {
            return .success(destinations)
        }
        let kept = destinations.filter { $0.preference < best }
        return kept.isEmpty ? .failure(.listedAsBestMX) : .success(kept)
    }
}
