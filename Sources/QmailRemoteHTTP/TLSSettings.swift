// HTTPS as configured: the certificate chain and key files (re-read on
// SIGHUP), and optionally the CA whose client certificates are required.
// No I/O here; MHD/ServerCredentials reads the files.

public struct TLSSettings: Sendable, Equatable {
    /// PEM: the server certificate, then its intermediates.
    public var certificateFile: String
    /// PEM: the private key (not encrypted).
    public var keyFile: String
    /// PEM: the CA certificates client certificates must chain to; nil: none asked for.
    public var clientCAFile: String?

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }

    /// GnuTLS priorities: TLS 1.3 and 1.2 only, AEAD ciphers with forward
    /// secrecy (ECDHE; in 1.3 every suite), no CBC, no RSA key exchange,
    /// no SHA-1 signatures, the groups X25519, P-256 and P-384 (Mozilla's
    /// "intermediate" profile); the server's order wins.
    public static let priorities =
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM"
        + ":-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1"
        + ":-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:-SIGN-DSA-SHA1"
        + ":%SERVER_PRECEDENCE"
}
