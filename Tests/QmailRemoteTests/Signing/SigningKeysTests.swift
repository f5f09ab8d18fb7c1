// The keys of one configuration load: each file read and handed to OpenSSL
// once (the gateway signs many messages with one load), what is wrong with a
// file kept until the next load, and a new load reading the files again.

import Foundation
import Testing

@testable import QmailRemote

@Suite struct SigningKeysTests {
    func load(_ control: String) throws -> DKIMDomains {
        try DKIMDomains(
            lines: [Array("example.com:sel".utf8)], file: control + "/dkimdomains", keyDirectory: control + "/dkimkeys")
    }

    @Test func aKeyIsDecodedOncePerLoad() throws {
        let control = TestKeys.controlDirectory(keys: [("example.com", "sel", "rsa2048")])
        let path = control + "/dkimkeys/example.com/sel"
        let domains = try load(control)
        let first = try domains.keys.signer(at: path).get()
        // The file gone: the load keeps what it read.
        try FileManager.default.removeItem(atPath: path)
        #expect(try domains.keys.signer(at: path).get() === first)
        // A new load reads the files again.
        guard case .failure(let problem) = try load(control).keys.signer(at: path) else {
            Issue.record("the key was not read again")
            return
        }
        #expect(problem.phrase == "does not exist")
    }

    @Test func aBadKeyStaysBadUntilTheNextLoad() throws {
        let control = TestKeys.controlDirectory(keys: [("example.com", "sel", "ec")])
        let path = control + "/dkimkeys/example.com/sel"
        let domains = try load(control)
        #expect(throws: KeyProblem.self) { try domains.keys.signer(at: path).get() }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: TestKeys.path("ed25519"), toPath: path)
        #expect(throws: KeyProblem.self) { try domains.keys.signer(at: path).get() }
        #expect(try load(control).keys.signer(at: path).get().algorithm == .ed25519SHA256)
    }
}
