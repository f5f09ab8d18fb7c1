// Finds the addresses to try for a host, in order: the route's relay, or MX
// records (lowest preference first, equal preferences shuffled) falling back to
// the host's own addresses, then the rule that drops this machine and
// everything not better than it. In ESMTP mode each name has A and AAAA
// records, ordered by control/addresspreference; classic mode is IPv4 only.
// For DANE the lookups are validated, and each server says whether its name
// and addresses came with DNSSEC's AD bit. The outcome is the servers to try,
// or the one report to print.

import QmailSupport

struct Destination: Sendable, Equatable {
    let address: IPAddress
    let preference: Int
    /// The server's name, for TLS (SNI, the certificate check, tlshosts):
    /// the MX host, the relay, the host itself, or an address's text.
    let name: [UInt8]
    /// DNSSEC vouched for the name (the MX RRset, or the relay from
    /// smtproutes) and for its addresses: its TLSA records may count (DANE).
    let secure: Bool

    init(address: IPAddress, preference: Int, name: [UInt8], secure: Bool = false) {
        self.address = address
        self.preference = preference
        self.name = name
        self.secure = secure
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
    /// Validated lookups (DO bit, AD bit read), for DANE; else plain ones.
    let dnssec: Bool

    init(
        resolver: any Resolver, ipv6: Bool = false, preference: AddressPreference = .any, dnssec: Bool = false,
        localAddresses: @escaping () -> Set<IPAddress>? = LocalAddresses.current
    ) {
        self.resolver = resolver
        self.localAddresses = localAddresses
        self.ipv6 = ipv6
        self.preference = preference
        self.dnssec = dnssec
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
                // The relay's name is the installation's: secure when its addresses are.
                return relayAddresses(name).map { found in
                    DestinationList(
                        servers: found.addresses.map {
                            Destination(address: $0, preference: 0, name: name, secure: found.secure)
                        }, port: route.port, routed: true)
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
    private func relayAddresses(_ name: [UInt8]) -> Result<(addresses: [IPAddress], secure: Bool), LocalFailure> {
        let found = addresses(of: name)
        switch found.answer {
        case .records(let addresses): return .success((addresses, found.secure))
        case .noSuchDomain, .noRecords: return .failure(.noSuchHost(name))
        case .temporaryFailure: return .failure(.temporaryDNSFailure)
        }
    }

    /// The addresses of one name: A, and AAAA in ESMTP mode, in the preferred
    /// order. A failure of one kind never hides a good answer of the other.
    /// Secure (validated lookups only) when every answer that gave addresses was.
    func addresses(of name: [UInt8]) -> ValidatedAnswer<IPAddress> {
        let v4 =
            dnssec
            ? resolver.validatedIPv4Addresses(of: name)
            : ValidatedAnswer(resolver.ipv4Addresses(of: name), secure: false)
        guard ipv6 else { return v4 }
        let v6 =
            dnssec
            ? resolver.validatedIPv6Addresses(of: name)
            : ValidatedAnswer(resolver.ipv6Addresses(of: name), secure: false)
        var four: [IPAddress] = [], six: [IPAddress] = []
        if case .records(let found) = v4.answer { four = found }
        if case .records(let found) = v6.answer { six = found }
        if four.isEmpty && six.isEmpty {
            if case .temporaryFailure = v4.answer { return ValidatedAnswer(.temporaryFailure, secure: false) }
            if case .temporaryFailure = v6.answer { return ValidatedAnswer(.temporaryFailure, secure: false) }
            if case .noSuchDomain = v4.answer { return ValidatedAnswer(.noSuchDomain, secure: false) }
            if case .noSuchDomain = v6.answer { return ValidatedAnswer(.noSuchDomain, secure: false) }
            return ValidatedAnswer(.noRecords, secure: false)
        }
        let secure = (four.isEmpty || v4.secure) && (six.isEmpty || v6.secure)
        switch preference {
        case .ipv4: return ValidatedAnswer(.records(four + six), secure: secure)
        case .ipv6: return ValidatedAnswer(.records(six + four), secure: secure)
        case .any: return ValidatedAnswer(.records(Bool.random() ? four + six : six + four), secure: secure)
        }
    }

    private func lookUpMailExchangers(_ host: [UInt8]) -> Result<[Destination], LocalFailure> {
        let records: [MXRecord]
        let answer =
            dnssec
            ? resolver.validatedMailExchangers(of: host)
            : ValidatedAnswer(resolver.mailExchangers(of: host), secure: false)
        switch answer.answer {
        case .records(let found): records = found
        case .noSuchDomain: return .failure(.noSuchHost(host))
        case .temporaryFailure: return .failure(.temporaryDNSFailure)
        case .noRecords:
            // No MX: the host is its own mail host, secure when the denial and its addresses are.
            let found = addresses(of: host)
            switch found.answer {
            case .records(let addresses):
                return .success(
                    addresses.map {
                        Destination(address: $0, preference: 0, name: host, secure: answer.secure && found.secure)
                    })
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
            let found = addresses(of: record.exchange)
            switch found.answer {
            case .records(let addresses):
                destinations += addresses.map {
                    Destination(
                        address: $0, preference: record.preference, name: record.exchange,
                        secure: answer.secure && found.secure)
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
