// Which MTA-STS policy applies to mail for a domain (RFC 8461 section 5.1):
// the TXT record _mta-sts.<domain> names the policy's id; an unexpired cached
// policy with that id is used as it is; otherwise the policy is fetched (with
// the domain's lock held, so concurrent deliveries fetch it once), cached, and
// used. When the TXT record is gone or the fetch fails, an unexpired cached
// policy keeps applying; without one there is no policy.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

struct MTASTSLookup {
    let resolver: any Resolver
    let cache: MTASTSCache
    let fetcher: any PolicyFetcher
    /// control/mtastscafile; nil: the system's CA store.
    let caFile: String?
    let timeout: Int
    let connectTimeout: Int
    /// The order of the policy host's addresses (control/addresspreference).
    let preference: AddressPreference
    /// Seconds since the epoch.
    let now: () -> Int

    /// The most a fetch may take, whatever timeoutremote says.
    static let fetchTimeLimit = 60

    init(
        resolver: any Resolver, cache: MTASTSCache, fetcher: any PolicyFetcher, caFile: String?, timeout: Int,
        connectTimeout: Int, preference: AddressPreference = .any, now: @escaping () -> Int = { Int(time(nil)) }
    ) {
        self.resolver = resolver
        self.cache = cache
        self.fetcher = fetcher
        self.caFile = caFile
        self.timeout = min(timeout, Self.fetchTimeLimit)
        self.connectTimeout = min(connectTimeout, Self.fetchTimeLimit)
        self.preference = preference
        self.now = now
    }

    /// The policy for mail to `domain`, nil when it has none.
    func policy(for domain: [UInt8]) -> MTASTSPolicy? {
        let domain = domain.last == UInt8(ascii: ".") ? Array(domain.dropLast()) : domain
        var record: MTASTSRecord?
        if case .records(let texts) = resolver.textRecords(of: Array("_mta-sts.".utf8) + domain) {
            record = MTASTSRecord.find(in: texts)
        }
        let cached = cache.read(domain).flatMap { $0.expired(at: now()) ? nil : $0 }
        guard let record else { return cached?.policy }
        if let cached, cached.id == record.id { return cached.policy }
        return cache.withLock(domain) {
            // Another delivery may have fetched it while this one waited.
            let current = cache.read(domain).flatMap { $0.expired(at: now()) ? nil : $0 }
            if let current, current.id == record.id { return current.policy }
            switch fetch(domain) {
            case .success(let body):
                guard let entry = CachedPolicy(text: body, id: record.id, fetched: now()) else {
                    return current?.policy
                }
                cache.write(entry, for: domain)
                return entry.policy
            case .failure:
                return current?.policy
            }
        }
    }

    private func fetch(_ domain: [UInt8]) -> Result<[UInt8], PolicyFetchFailure> {
        // A and AAAA in the order control/addresspreference gives mail hosts.
        let finder = MailExchangers(resolver: resolver, ipv6: true, preference: preference, localAddresses: { nil })
        var addresses: [IPAddress] = []
        if case .records(let found) = finder.addresses(of: Array("mta-sts.".utf8) + domain).answer { addresses = found }
        return fetcher.fetch(
            domain, addresses: addresses, caFile: caFile, timeout: timeout, connectTimeout: connectTimeout)
    }
}
