// Signing digests with OpenSSL through CTLS: RSA and Ed25519 signatures that
// the openssl command (a verifier nobody here wrote) accepts, one key shared
// by threads, keys OpenSSL refuses, an RSA key whose parts do not belong
// together (no signature comes out), and SHA-256 against known answers.

import Foundation
import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct DigestSignerTests {
    func signer(_ name: String) throws -> DigestSigner {
        try DigestSigner(SigningKey.load(path: TestKeys.path(name)).get())
    }

    /// Whether `openssl pkeyutl` verifies `signature` of `digest` with the public half of the key `name`.
    func opensslVerifies(_ name: String, digest: [UInt8], signature: [UInt8], ed25519: Bool) throws -> Bool {
        let directory = NSTemporaryDirectory() + "dkim-verify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(digest).write(to: URL(fileURLWithPath: directory + "/digest"))
        try Data(signature).write(to: URL(fileURLWithPath: directory + "/signature"))
        var arguments = [
            "pkeyutl", "-verify", "-inkey", TestKeys.path(name), "-in", directory + "/digest", "-sigfile",
            directory + "/signature",
        ]
        arguments += ed25519 ? ["-rawin"] : ["-pkeyopt", "digest:sha256"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test(arguments: ["rsa2048", "rsa1024-pkcs1", "ed25519"])
    func signaturesVerifyWithOpenSSLsCommand(name: String) throws {
        let digest = SHA256.digest(Array("the header hash".utf8))
        let signature = try #require(try signer(name).sign(digest))
        let ed25519 = name == "ed25519"
        #expect(signature.count == (ed25519 ? 64 : name == "rsa2048" ? 256 : 128))
        #expect(try opensslVerifies(name, digest: digest, signature: signature, ed25519: ed25519))
        var other = digest
        other[0] ^= 1
        #expect(try !opensslVerifies(name, digest: other, signature: signature, ed25519: ed25519))
    }

    @Test func threadsShareOneKey() throws {
        final class Signatures: @unchecked Sendable {
            // @unchecked: `all` is touched under `lock` only.
            let lock = Lock()
            var all: [[UInt8]?] = []
        }
        let shared = try signer("rsa2048")
        let digest = SHA256.digest([1, 2, 3])
        let expected = try #require(shared.sign(digest))
        let results = Signatures()
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let signature = shared.sign(digest)
            results.lock.withLock { results.all.append(signature) }
        }
        // PKCS#1 v1.5 is deterministic: blinding changes nothing in the result.
        #expect(results.all.count == 16 && results.all.allSatisfy { $0 == expected })
    }

    @Test func keysOpenSSLRefusesSayWhy() throws {
        // Well-formed enough for SigningKey, not for OpenSSL: an RSAPrivateKey of two integers.
        let key = SigningKey(
            algorithm: .rsaSHA256(bits: 1024), material: [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x05])
        #expect(throws: KeyProblem.self) { try DigestSigner(key) }
        let short = SigningKey(algorithm: .ed25519SHA256, material: [UInt8](repeating: 1, count: 31))
        #expect(throws: KeyProblem.self) { try DigestSigner(short) }
    }

    @Test func anRSAKeyWhosePartsDoNotBelongTogetherSignsNothing() throws {
        // The public exponent 65537 (02 03 01 00 01) changed to 65539: OpenSSL's
        // signature then does not verify with the key's own public half.
        var material = try SigningKey.load(path: TestKeys.path("rsa2048")).get().material
        let exponent: [UInt8] = [0x02, 0x03, 0x01, 0x00, 0x01]
        let at = try #require((0...(material.count - 5)).first { Array(material[$0..<$0 + 5]) == exponent })
        material[at + 4] = 0x03
        let broken = try DigestSigner(SigningKey(algorithm: .rsaSHA256(bits: 2048), material: material))
        #expect(broken.sign(SHA256.digest([1])) == nil)
    }

    @Test func sha256KnownAnswersInAnyPieces() {
        #expect(
            Hex.text(OpenSSLSHA256.digest([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            Hex.text(OpenSSLSHA256.digest(Array("ab".utf8), Array("c".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(OpenSSLSHA256.digest(bytes) == SHA256.digest(bytes))
    }
}
