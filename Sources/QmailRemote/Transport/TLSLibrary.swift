// The Swift side of CTLS for everything but a connection: a client context
// (whom to trust, what to present), OpenSSL's last error as text, and
// HMAC-MD5 for CRAM-MD5 logins. OpenSSL is set up on first use of any of
// these, never before: a plain delivery never touches it.

internal import CTLS

/// The client side's fixed settings: whom to trust, what to present.
final class TLSContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is safe to share between threads once set up,
    // and it is never changed after init.
    let pointer: OpaquePointer

    /// Throws with the reason when a file (CA, client certificate) or the
    /// ciphers cannot be used. `dane`: for connections checked against TLSA records.
    init(caFile: String?, clientCertificate: String?, ciphers: String?, dane: Bool = false) throws(TLSFailure) {
        guard let context = ctls_context_new(caFile, clientCertificate, ciphers, dane ? 1 : 0) else {
            throw .failed(TLSLibrary.lastError())
        }
        pointer = context
    }

    deinit { ctls_context_free(pointer) }
}

enum TLSLibrary {
    /// OpenSSL's last error; never secrets.
    static func lastError() -> String {
        var text = [CChar](repeating: 0, count: 256)
        ctls_last_error(&text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// HMAC-MD5 of `data` under `key` (RFC 2104), 16 bytes; nil if OpenSSL fails.
    static func hmacMD5(key: [UInt8], data: [UInt8]) -> [UInt8]? {
        var digest = [UInt8](repeating: 0, count: 16)
        let ok = key.withUnsafeBufferPointer { key in
            data.withUnsafeBufferPointer { data in
                ctls_hmac_md5(key.baseAddress, Int32(key.count), data.baseAddress, data.count, &digest)
            }
        }
        return ok == 1 ? digest : nil
    }
}
