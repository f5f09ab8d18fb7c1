// A private key from control/dkimkeys/<sdid>/<selector>: a PEM file holding
// an RSA key (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY", 1024 to 4096
// bits) or an Ed25519 key (PKCS#8). The algorithm follows the key. Read and
// checked here, without OpenSSL's PEM and PKCS#8 decoders (they cost more
// than the signature), so that what is wrong with a key is said plainly; what
// OpenSSL is then given is the RSAPrivateKey DER or the raw Ed25519 key.

import QmailSupport

struct SigningKey: Sendable, Equatable {
    enum Algorithm: Sendable, Equatable {
        case rsaSHA256(bits: Int)
        case ed25519SHA256

        /// The a= tag's value.
        var tag: String {
            switch self {
            case .rsaSHA256: return "rsa-sha256"
            case .ed25519SHA256: return "ed25519-sha256"
            }
        }
    }

    /// RFC 8301: signers use at least 1024 bits; verifiers need handle no more than 4096.
    static let rsaBits = 1024...4096

    let algorithm: Algorithm
    /// What OpenSSL takes: an RSAPrivateKey (PKCS#1) in DER, or the 32
    /// bytes of an Ed25519 private key (RFC 8410).
    let material: [UInt8]

    /// Reads and checks the key at `path`; the error is a phrase for stderr.
    static func load(path: String) -> Result<SigningKey, KeyProblem> {
        let lines: [[UInt8]]
        do throws(ControlError) {
            guard let read = try ControlFile.lines(at: path) else { return .failure(KeyProblem("does not exist")) }
            lines = read
        } catch {
            return .failure(KeyProblem("cannot be read: \(error.reason)"))
        }
        return parse(lines: lines)
    }

    static func parse(lines: [[UInt8]]) -> Result<SigningKey, KeyProblem> {
        guard let begin = lines.firstIndex(where: { $0.starts(with: Array("-----BEGIN ".utf8)) }),
            lines[begin].count > 16, lines[begin].suffix(5).elementsEqual("-----".utf8)
        else {
            return .failure(KeyProblem("is not a PEM private key (-----BEGIN PRIVATE KEY-----)"))
        }
        let label = String(decoding: lines[begin].dropFirst(11).dropLast(5), as: UTF8.self)
        guard let end = lines[begin...].firstIndex(where: { $0.elementsEqual("-----END \(label)-----".utf8) }) else {
            return .failure(KeyProblem("has no -----END \(label)----- line"))
        }
        let body = lines[(begin + 1)..<end]
        if body.contains(where: { $0.starts(with: Array("Proc-Type:".utf8)) }) {
            return .failure(KeyProblem("is encrypted; store it without a passphrase (openssl pkey -in old -out new)"))
        }
        guard let der = Base64.decode(bytes: body.flatMap { $0 }) else {
            return .failure(KeyProblem("is not valid base64 between its BEGIN and END lines"))
        }
        switch label {
        case "PRIVATE KEY": return pkcs8(der)
        case "RSA PRIVATE KEY": return rsa(der[...])
        case "ENCRYPTED PRIVATE KEY":
            return .failure(KeyProblem("is encrypted; store it without a passphrase (openssl pkey -in old -out new)"))
        case "EC PRIVATE KEY": return .failure(KeyProblem("is an EC key; DKIM signs with RSA or Ed25519"))
        default: return .failure(KeyProblem("holds \(label), not a private key in PKCS#8 or PKCS#1"))
        }
    }

    private static let rsaEncryption: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    private static let ed25519: [UInt8] = [0x2B, 0x65, 0x70]

    /// PrivateKeyInfo (RFC 5208, 5958): version, AlgorithmIdentifier, OCTET STRING key.
    private static func pkcs8(_ der: [UInt8]) -> Result<SigningKey, KeyProblem> {
        var outer = DERReader(der[...])
        guard var info = outer.read(.sequence).map(DERReader.init), outer.isAtEnd,
            info.read(.integer) != nil,
            var identifier = info.read(.sequence).map(DERReader.init),
            let oid = identifier.read(.objectIdentifier),
            let key = info.read(.octetString)
        else {
            return .failure(KeyProblem("is not a PKCS#8 private key"))
        }
        if oid.elementsEqual(rsaEncryption) { return rsa(key) }
        if oid.elementsEqual(ed25519) {
            var inner = DERReader(key)
            guard let seed = inner.read(.octetString), seed.count == 32, inner.isAtEnd else {
                return .failure(KeyProblem("is not a valid Ed25519 key"))
            }
            return .success(SigningKey(algorithm: .ed25519SHA256, material: Array(seed)))
        }
        return .failure(KeyProblem("is neither an RSA nor an Ed25519 key"))
    }

    /// RSAPrivateKey (RFC 8017): version, modulus, ...; the modulus gives the size.
    private static func rsa(_ der: ArraySlice<UInt8>) -> Result<SigningKey, KeyProblem> {
        var outer = DERReader(der)
        guard var key = outer.read(.sequence).map(DERReader.init), outer.isAtEnd, key.read(.integer) != nil,
            var modulus = key.read(.integer)
        else {
            return .failure(KeyProblem("is not a valid RSA key"))
        }
        while modulus.first == 0 { modulus = modulus.dropFirst() }
        guard let top = modulus.first else { return .failure(KeyProblem("is not a valid RSA key")) }
        let bits = (modulus.count - 1) * 8 + (8 - top.leadingZeroBitCount)
        guard rsaBits.contains(bits) else {
            return .failure(
                KeyProblem("is an RSA key of \(bits) bits; DKIM wants 1024 to 4096 (2048 recommended)"))
        }
        return .success(SigningKey(algorithm: .rsaSHA256(bits: bits), material: Array(der)))
    }
}

/// What is wrong with a key file, as a phrase after its path.
struct KeyProblem: Error, Sendable, Equatable {
    let phrase: String

    init(_ phrase: String) { self.phrase = phrase }
}
