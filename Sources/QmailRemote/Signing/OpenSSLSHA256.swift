// SHA-256 through CTLS, for what DKIM hashes: the canonical body, which may
// be a message of 100 MB, and the signed header fields. OpenSSL's uses the
// CPU's SHA instructions (ten times QmailSupport's SHA256 here); QmailSupport's
// stays for the core and gateway code that must not need OpenSSL.

internal import CTLS

final class OpenSSLSHA256 {
    private let pointer: OpaquePointer

    init() {
        guard let made = ctls_sha256_new() else { fatalError("out of memory") }
        pointer = made
    }

    deinit { ctls_sha256_free(pointer) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        ctls_sha256_update(pointer, bytes.baseAddress, bytes.count)
    }

    func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest; the hash is spent.
    func finish() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { ctls_sha256_finish(pointer, $0.baseAddress) }
        return digest
    }

    static func digest(_ parts: [UInt8]...) -> [UInt8] {
        let hash = OpenSSLSHA256()
        for part in parts { hash.update(part) }
        return hash.finish()
    }
}
