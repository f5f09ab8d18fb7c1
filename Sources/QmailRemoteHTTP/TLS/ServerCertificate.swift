// The gateway's HTTPS certificate and key: read from --tls-cert and
// --tls-key at start and again on SIGHUP (short-lived certificates need no
// restart). Each handshake takes the one installed when it starts; one that
// was replaced is freed only after every handshake that could have taken it
// is over (handshakes end within the header timeout: the sweep cuts them).
// A reload that fails keeps the certificate in use.

internal import CGnuTLS
import QmailSupport

final class ServerCertificate: @unchecked Sendable {
    // @unchecked: `retired` is read and written under `lock` only; the
    // installed identity is CGnuTLS's, behind its own lock.
    private let settings: TLSSettings
    private let graceSeconds: Double
    private let lock = Lock()
    private var retired: [(identity: OpaquePointer, since: Double)] = []

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads and installs the certificate, or says why it cannot.
    init(_ settings: TLSSettings, graceSeconds: Double) throws(Failure) {
        self.settings = settings
        self.graceSeconds = graceSeconds
        try reload()
    }

    /// The callback libmicrohttpd calls in each handshake.
    static var retrieveFunction: UnsafeMutableRawPointer? { cgnutls_retrieve_function() }

    /// Reads the files again and installs what they hold; on failure the
    /// certificate in use stays.
    func reload() throws(Failure) {
        let chain = try Self.read(settings.certificateFile, "--tls-cert")
        let key = try Self.read(settings.keyFile, "--tls-key")
        var error = [CChar](repeating: 0, count: 256)
        let loaded = chain.withUnsafeBytes { chainBytes in
            key.withUnsafeBytes { keyBytes in
                cgnutls_identity_load(
                    chainBytes.baseAddress, chainBytes.count, keyBytes.baseAddress, keyBytes.count, &error, error.count)
            }
        }
        guard let loaded else {
            throw Failure(
                description:
                    "\(settings.certificateFile) and \(settings.keyFile): \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))"
            )
        }
        let previous = cgnutls_identity_install(loaded)
        let now = Clock.seconds()
        let expired: [OpaquePointer] = lock.withLock {
            if let previous { retired.append((previous, now)) }
            let old = retired.filter { now - $0.since > graceSeconds }.map(\.identity)
            retired.removeAll { now - $0.since > graceSeconds }
            return old
        }
        for identity in expired { cgnutls_identity_free(identity) }
    }

    private static func read(_ path: String, _ flag: String) throws(Failure) -> [UInt8] {
        let content: [UInt8]?
        do { content = try ControlFile.contents(at: path) } catch {
            throw Failure(description: "\(flag) \(path): \(error.reason)")
        }
        guard let content, !content.isEmpty else {
            throw Failure(description: "\(flag) \(path): no such file, or empty")
        }
        return content
    }
}
