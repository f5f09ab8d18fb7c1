// The key files operators make with openssl: RSA (PKCS#8 and PKCS#1) and
// Ed25519 are read; every other kind of file says what is wrong with it
// (too small or too large, EC, X25519, encrypted, a public key, not PEM,
// broken base64, missing, unreadable).

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct SigningKeyTests {
    func load(_ name: String) -> Result<SigningKey, KeyProblem> { SigningKey.load(path: TestKeys.path(name)) }

    func problem(_ name: String) -> String? {
        if case .failure(let problem) = load(name) { return problem.phrase }
        return nil
    }

    @Test func rsaAndEd25519KeysAreRead() throws {
        #expect(try load("rsa2048").get().algorithm == .rsaSHA256(bits: 2048))
        #expect(try load("rsa1024").get().algorithm == .rsaSHA256(bits: 1024))
        #expect(try load("rsa1024-pkcs1").get().algorithm == .rsaSHA256(bits: 1024))
        #expect(try load("ed25519").get().algorithm == .ed25519SHA256)
        #expect(try load("ed25519").get().algorithm.tag == "ed25519-sha256")
        #expect(try load("rsa2048").get().algorithm.tag == "rsa-sha256")
    }

    @Test func whatOpenSSLIsGivenIsTheKeyItself() throws {
        // The last 32 bytes of the PKCS#8 DER are the Ed25519 key; an RSA key is its PKCS#1 DER.
        let pkcs8 = try #require(Base64.decode(bytes: pemBody("ed25519")))
        #expect(try load("ed25519").get().material == Array(pkcs8.suffix(32)))
        let pkcs1 = try #require(Base64.decode(bytes: pemBody("rsa1024-pkcs1")))
        #expect(try load("rsa1024-pkcs1").get().material == pkcs1)
        // The same key as PKCS#8 gives the same RSAPrivateKey.
        #expect(try load("rsa1024").get().material == pkcs1)
    }

    func pemBody(_ name: String) -> [UInt8] {
        Array(TestKeys.text(name).split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined().utf8)
    }

    @Test func badKeysSayWhatIsWrong() {
        #expect(problem("rsa512") == "is an RSA key of 512 bits; DKIM wants 1024 to 4096 (2048 recommended)")
        #expect(problem("ec") == "is neither an RSA nor an Ed25519 key")
        #expect(problem("x25519") == "is neither an RSA nor an Ed25519 key")
        #expect(problem("ec-traditional") == "is an EC key; DKIM signs with RSA or Ed25519")
        #expect(problem("encrypted")?.hasPrefix("is encrypted") == true)
        #expect(problem("encrypted-pkcs1")?.hasPrefix("is encrypted") == true)
        #expect(problem("rsa2048.pub") == "holds PUBLIC KEY, not a private key in PKCS#8 or PKCS#1")
        #expect(problem("missing") == "does not exist")
        #expect(problem("").map { $0.hasPrefix("cannot be read: ") } == true)  // the directory itself
    }

    func parse(_ text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.utf8) }
        if case .failure(let problem) = SigningKey.parse(lines: lines) { return problem.phrase }
        return nil
    }

    @Test func brokenFilesSayWhatIsWrong() {
        #expect(parse("just text") == "is not a PEM private key (-----BEGIN PRIVATE KEY-----)")
        #expect(parse("-----BEGIN PRIVATE KEY-----\nAAAA\n") == "has no -----END PRIVATE KEY----- line")
        #expect(
            parse("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----")
                == "is not valid base64 between its BEGIN and END lines")
        #expect(
            parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----") == "is not a PKCS#8 private key")
        #expect(
            parse("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----") == "is not a valid RSA key")
        // Whatever comes around the PEM block is left out.
        let key = TestKeys.text("rsa2048")
        #expect(parse("comment line\n" + key + "\ntrailer") == nil)
    }

    /// An RSAPrivateKey whose modulus has `bits` bits (the rest is not read).
    func rsaKey(bits: Int) -> String {
        var modulus = [UInt8](repeating: 0xA5, count: (bits + 7) / 8)
        let spare = modulus.count * 8 - bits
        modulus[0] = 0xFF >> spare
        modulus.insert(0, at: 0)
        func item(_ tag: UInt8, _ contents: [UInt8]) -> [UInt8] {
            let length = contents.count
            let header: [UInt8] = length < 128 ? [UInt8(length)] : [0x82, UInt8(length >> 8), UInt8(length & 0xFF)]
            return [tag] + header + contents
        }
        let der = item(0x30, item(0x02, [0]) + item(0x02, modulus) + item(0x02, [1, 0, 1]))
        return "-----BEGIN RSA PRIVATE KEY-----\n" + String(decoding: Base64.encode(der), as: UTF8.self)
            + "\n-----END RSA PRIVATE KEY-----"
    }

    @Test func rsaSizesFrom1024To4096() {
        #expect(parse(rsaKey(bits: 1024)) == nil)
        #expect(parse(rsaKey(bits: 4096)) == nil)
        #expect(parse(rsaKey(bits: 1023)) == "is an RSA key of 1023 bits; DKIM wants 1024 to 4096 (2048 recommended)")
        #expect(parse(rsaKey(bits: 4097)) == "is an RSA key of 4097 bits; DKIM wants 1024 to 4096 (2048 recommended)")
    }
}
