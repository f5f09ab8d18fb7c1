// The MTA-STS cache on real files: round trips, hashed names, damaged
// files, the lock between threads; and the RFC 8461 5.1 rules of
// MTASTSLookup over it with a scripted fetcher and clock.

import QmailSupport
import Synchronization
import Testing

@testable import QmailRemote

#if canImport(Glibc)
import Glibc
#endif

/// A fetcher that answers as told, counts its calls and keeps the last
/// addresses it was given.
final class ScriptedFetcher: PolicyFetcher, @unchecked Sendable {
    // @unchecked: the fields are guarded by `lock`.
    private let lock = Lock()
    private var _answer: Result<[UInt8], PolicyFetchFailure>
    private var _calls = 0
    private var _addresses: [IPAddress] = []

    init(_ answer: Result<[UInt8], PolicyFetchFailure>) { _answer = answer }

    var answer: Result<[UInt8], PolicyFetchFailure> {
        get { lock.withLock { _answer } }
        set { lock.withLock { _answer = newValue } }
    }
    var calls: Int { lock.withLock { _calls } }
    var addresses: [IPAddress] { lock.withLock { _addresses } }

    func fetch(
        _ domain: [UInt8], addresses: [IPAddress], caFile: String?, timeout: Int, connectTimeout: Int
    ) -> Result<[UInt8], PolicyFetchFailure> {
        lock.withLock {
            _calls += 1
            _addresses = addresses
            return _answer
        }
    }
}

func policyText(_ mode: String, maxAge: Int = 100) -> [UInt8] {
    Array("version: STSv1\nmode: \(mode)\nmx: mx.x.test\nmax_age: \(maxAge)\n".utf8)
}

@Suite struct MTASTSCacheTests {
    let directory: String
    let domain = Array("x.test".utf8)

    init() {
        var template = Array("/tmp/mtasts-cache-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    var cache: MTASTSCache { MTASTSCache(directory: directory + "/mtasts") }

    @Test func roundTripUnderAHashedName() throws {
        let entry = try #require(CachedPolicy(text: policyText("enforce"), id: Array("id1".utf8), fetched: 1000))
        #expect(cache.write(entry, for: Array("X.Test.".utf8)))
        #expect(cache.read(domain) == entry)
        #expect(
            cache.path(domain, ".policy")
                == directory + "/mtasts/" + Hex.text(SHA256.digest(Array("x.test".utf8))) + ".policy")
        #expect(!entry.expired(at: 1099) && entry.expired(at: 1100))
    }

    @Test func damagedFilesAreNoPolicy() throws {
        let entry = try #require(CachedPolicy(text: policyText("enforce"), id: Array("id1".utf8), fetched: 1000))
        #expect(cache.write(entry, for: domain))
        for damaged in [
            "", "qmail-remote MTA-STS cache 1\nid x\n", "other\nid 1\nfetched 1\nversion: STSv1\n",
            "qmail-remote MTA-STS cache 1\nid 1\nfetched x\nversion: STSv1\nmode: none\nmax_age: 1\n",
            "qmail-remote MTA-STS cache 1\nid 1\nfetched 5\nnot a policy\n",
        ] {
            let fd = open(cache.path(domain, ".policy"), O_WRONLY | O_TRUNC)
            try Descriptor.writeAll(Array(damaged.utf8), to: fd)
            close(fd)
            #expect(cache.read(domain) == nil, "\(damaged)")
        }
    }

    @Test func unwritableDirectoryCachesNothing() throws {
        let cache = MTASTSCache(directory: directory + "/missing/mtasts")
        let entry = try #require(CachedPolicy(text: policyText("enforce"), id: Array("1".utf8), fetched: 1))
        #expect(!cache.write(entry, for: domain))
        #expect(cache.withLock(domain) { 7 } == 7)
    }

    @Test func theLockSerializesThreads() {
        let inside = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let cache = self.cache
        let domain = self.domain
        var threads: [pthread_t] = []
        final class Work: @unchecked Sendable {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        for _ in 0..<8 {
            let work = Work {
                for _ in 0..<20 {
                    cache.withLock(domain) {
                        if inside.add(1, ordering: .sequentiallyConsistent).newValue > 1 {
                            overlaps.add(1, ordering: .sequentiallyConsistent)
                        }
                        usleep(100)
                        inside.subtract(1, ordering: .sequentiallyConsistent)
                    }
                }
            }
            var thread = pthread_t()
            pthread_create(
                &thread, nil,
                { raw in
                    Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue().body()
                    return nil
                }, Unmanaged.passRetained(work).toOpaque())
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        #expect(overlaps.load(ordering: .sequentiallyConsistent) == 0)
    }

    func lookup(_ resolver: TableResolver, _ fetcher: ScriptedFetcher, now: Int) -> MTASTSLookup {
        MTASTSLookup(
            resolver: resolver, cache: cache, fetcher: fetcher, caFile: nil, timeout: 5, connectTimeout: 5,
            now: { now })
    }

    func resolver(id: String?) -> TableResolver {
        var resolver = TableResolver()
        if let id { resolver.txt["_mta-sts.x.test"] = .records([Array("v=STSv1; id=\(id)".utf8)]) }
        resolver.a["mta-sts.x.test"] = .records([IPAddress(192, 0, 2, 80)])
        return resolver
    }

    @Test func rfc8461CachingRules() {
        let fetcher = ScriptedFetcher(.success(policyText("enforce", maxAge: 100)))
        #expect(lookup(resolver(id: "1"), fetcher, now: 1000).policy(for: domain)?.mode == .enforce)
        #expect(fetcher.calls == 1)
        // Same id, unexpired: from the cache.
        fetcher.answer = .success(policyText("testing"))
        #expect(lookup(resolver(id: "1"), fetcher, now: 1050).policy(for: domain)?.mode == .enforce)
        #expect(fetcher.calls == 1)
        // No TXT record: the cached policy holds.
        #expect(lookup(resolver(id: nil), fetcher, now: 1050).policy(for: domain)?.mode == .enforce)
        // A new id whose fetch fails, or gives no policy: the cached one holds.
        fetcher.answer = .failure(PolicyFetchFailure(reason: "down"))
        #expect(lookup(resolver(id: "2"), fetcher, now: 1060).policy(for: domain)?.mode == .enforce)
        fetcher.answer = .success(Array("garbage".utf8))
        #expect(lookup(resolver(id: "2"), fetcher, now: 1060).policy(for: domain)?.mode == .enforce)
        // A new id that fetches: the new policy, cached.
        fetcher.answer = .success(policyText("testing", maxAge: 100))
        #expect(lookup(resolver(id: "2"), fetcher, now: 1070).policy(for: domain)?.mode == .testing)
        #expect(cache.read(domain)?.id == Array("2".utf8))
        // Expired, the fetch fails: no policy.
        fetcher.answer = .failure(PolicyFetchFailure(reason: "down"))
        #expect(lookup(resolver(id: "2"), fetcher, now: 1170).policy(for: domain) == nil)
        #expect(lookup(resolver(id: nil), fetcher, now: 1170).policy(for: domain) == nil)
        // Expired, the same id fetches again.
        fetcher.answer = .success(policyText("enforce"))
        let calls = fetcher.calls
        #expect(lookup(resolver(id: "2"), fetcher, now: 1170).policy(for: domain)?.mode == .enforce)
        #expect(fetcher.calls == calls + 1)
    }

    @Test func aTrailingDotIsTheSameDomain() {
        let fetcher = ScriptedFetcher(.success(policyText("enforce")))
        #expect(lookup(resolver(id: "1"), fetcher, now: 1).policy(for: Array("x.test.".utf8))?.mode == .enforce)
        #expect(cache.read(domain)?.id == Array("1".utf8))
    }

    @Test func thePolicyHostsAddressesGoInAddresspreferenceOrder() throws {
        var dns = resolver(id: "1")
        let v4 = IPAddress(192, 0, 2, 80)
        let v6 = try #require(IPAddress(literal: Array("2001:db8::80".utf8), ipv6: true))
        dns.aaaa["mta-sts.x.test"] = .records([v6])
        for (preference, order) in [(AddressPreference.ipv4, [v4, v6]), (.ipv6, [v6, v4])] {
            let fetcher = ScriptedFetcher(.failure(PolicyFetchFailure(reason: "down")))
            let lookup = MTASTSLookup(
                resolver: dns, cache: cache, fetcher: fetcher, caFile: nil, timeout: 5, connectTimeout: 5,
                preference: preference, now: { 1 })
            #expect(lookup.policy(for: domain) == nil)
            #expect(fetcher.addresses == order, "\(preference)")
        }
        // Only AAAA, or a failed A lookup: what there is.
        dns.a["mta-sts.x.test"] = .temporaryFailure
        let fetcher = ScriptedFetcher(.failure(PolicyFetchFailure(reason: "down")))
        _ = MTASTSLookup(
            resolver: dns, cache: cache, fetcher: fetcher, caFile: nil, timeout: 5, connectTimeout: 5, now: { 1 }
        ).policy(for: domain)
        #expect(fetcher.addresses == [v6])
    }

    @Test func noRecordNoCacheNoFetch() {
        let fetcher = ScriptedFetcher(.success(policyText("enforce")))
        #expect(lookup(resolver(id: nil), fetcher, now: 1).policy(for: domain) == nil)
        #expect(fetcher.calls == 0)
    }
}
