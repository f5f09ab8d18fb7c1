// The gateway's DKIM keys live as long as one reading of its control files:
// deliveries made with the same load share its decoded keys (a key file is
// read and handed to OpenSSL once per load, not per message), and a load
// that is a second old is read again, keys included.

import Foundation
import Testing

@testable import QmailRemote
@testable import QmailRemoteHTTP

@Suite struct SigningKeyCacheTests {
    /// A qmail home whose control/dkimdomains signs example.com with an Ed25519 key made by openssl.
    func home() throws -> (home: String, key: String) {
        let home = NSTemporaryDirectory() + "gateway-keys-" + UUID().uuidString
        let keys = home + "/control/dkimkeys/example.com"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        try "gateway.test\n".write(toFile: home + "/control/me", atomically: false, encoding: .utf8)
        try "example.com:sel\n".write(toFile: home + "/control/dkimdomains", atomically: false, encoding: .utf8)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["genpkey", "-algorithm", "ED25519", "-out", keys + "/sel"]
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        return (home, keys + "/sel")
    }

    @Test func deliveriesWithinOneLoadShareItsDecodedKeys() throws {
        let (home, key) = try home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let cache = ConfigurationCache(environment: Environment(qmailHome: home))
        let (first, fresh) = cache.current()
        #expect(fresh)
        let signer = try #require(try first.get().dkimDomains).keys.signer(at: key).get()
        // The file gone: the next delivery within the second still signs with what was decoded.
        try FileManager.default.removeItem(atPath: key)
        let (second, again) = cache.current()
        #expect(!again)
        #expect(try #require(try second.get().dkimDomains).keys.signer(at: key).get() === signer)
        // The next load reads the files again and finds the key missing.
        Thread.sleep(forTimeInterval: ConfigurationCache.lifetimeSeconds + 0.1)
        let (third, reread) = cache.current()
        #expect(reread)
        #expect(throws: KeyProblem("does not exist")) {
            try #require(try third.get().dkimDomains).keys.signer(at: key).get()
        }
    }
}
