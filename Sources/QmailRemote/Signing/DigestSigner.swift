// A private key handed to OpenSSL (through CTLS), signing SHA-256 digests:
// RSASSA-PKCS1-v1_5 for rsa-sha256, PureEdDSA over the digest's 32 bytes for
// ed25519-sha256 (RFC 8463). Made once per key file and configuration load
// (SigningKeys), shared by the gateway's threads. Not here: reading the key
// file (SigningKey), hashing or the DKIM-Signature field.

internal import CTLS

final class DigestSigner: @unchecked Sendable {
    // @unchecked: the key is never changed after init, and OpenSSL signs with
    // one key from several threads at once (it locks RSA blinding itself).
    private let pointer: OpaquePointer
    let algorithm: SigningKey.Algorithm

    /// Throws when OpenSSL refuses the key SigningKey read.
    init(_ key: SigningKey) throws(KeyProblem) {
        let kind: Int32
        switch key.algorithm {
        case .rsaSHA256: kind = CTLS_SIGNING_RSA
        case .ed25519SHA256: kind = CTLS_SIGNING_ED25519
        }
        guard let made = key.material.withUnsafeBufferPointer({ ctls_signing_key_new(kind, $0.baseAddress, $0.count) })
        else {
            throw KeyProblem("is not a key OpenSSL can use (\(TLSLibrary.lastError()))")
        }
        pointer = made
        algorithm = key.algorithm
    }

    deinit { ctls_signing_key_free(pointer) }

    /// The signature of a 32-byte SHA-256 digest; nil when OpenSSL cannot
    /// make one, or made an RSA signature that does not verify.
    func sign(_ digest: [UInt8]) -> [UInt8]? {
        precondition(digest.count == 32, "a SHA-256 digest")
        var signature = [UInt8](repeating: 0, count: 512)
        let length = digest.withUnsafeBufferPointer { digest in
            signature.withUnsafeMutableBufferPointer { out in
                ctls_sign(pointer, digest.baseAddress, out.baseAddress, out.count)
            }
        }
        return length == 0 ? nil : Array(signature.prefix(length))
    }
}
