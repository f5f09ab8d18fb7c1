// Finds the addresses to try for a host, in order: the route's relay, or MX
// records (lowest preference first, equal preferences shuffled) falling back to
// the host's A records, then the rule that drops this machine and everything
// not better than it. The outcome is addresses or the one report to print.

public struct Destination: Sendable, Equatable {
    public let address: IPAddress
    public let preference: Int

    public init(address: IPAddress, preference: Int) {
        self.address = address
        self.preference = preference
    }
}

public struct MailExchangers {
    public let resolver: any Resolver
    public let localAddresses: () -> Set<IPAddress>?

    public init(resolver: any Resolver, localAddresses: @escaping () -> Set<IPAddress>? = LocalAddresses.current) {
        self.resolver = resolver
        self.localAddresses = localAddresses
    }

    /// Addresses to try with their port, or the failure to report.
    public func destinations(for host: [UInt8], route: Route?) -> Result<(addresses: [IPAddress], port: UInt16), LocalFailure> {
        if let route {
            switch route.target {
            case .address(let address): return .success(([address], route.port))
            case .name(let name): return addresses(of: name).map { ($0, route.port) }
            case .mailExchangers: break
            }
        }
        let port = route?.port ?? 25
        let found: Result<[Destination], LocalFailure>
        if let literal = IPAddress(literal: host) {
            found = .success([Destination(address: literal, preference: 0)])
        } else {
            found = lookUpMailExchangers(host)
        }
        return found.flatMap(dropLocal).map { ($0.map(\.address), port) }
    }

    /// A relay name: A records only, never MX.
    private func addresses(of name: [UInt8]) -> Result<[IPAddress], LocalFailure> {
        switch resolver.ipv4Addresses(of: name) {
        case .records(let addresses): return .success(addresses)
        case .noSuchDomain, .noRecords: return .failure(.noSuchHost(name))
        case .temporaryFailure: return .failure(.temporaryDNSFailure)
        }
    }

    private func lookUpMailExchangers(_ host: [UInt8]) -> Result<[Destination], LocalFailure> {
        let records: [MXRecord]
        switch resolver.mailExchangers(of: host) {
        case .records(let found): records = found
        case .noSuchDomain: return .failure(.noSuchHost(host))
        case .temporaryFailure: return .failure(.temporaryDNSFailure)
        case .noRecords:
            return addresses(of: host).map { $0.map { Destination(address: $0, preference: 0) } }
        }
        var generator = SystemRandomNumberGenerator()
        let ordered = records
            .map { (record: $0, tie: generator.next() as UInt64) }
            .sorted { ($0.record.preference, $0.tie) < ($1.record.preference, $1.tie) }
            .map(\.record)
        var destinations: [Destination] = []
        var sawTemporaryFailure = false
        for record in ordered where !record.exchange.isEmpty {
            switch resolver.ipv4Addresses(of: record.exchange) {
            case .records(let addresses):
                destinations += addresses.map { Destination(address: $0, preference: record.preference) }
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
