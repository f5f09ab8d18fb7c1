// How TLS goes on one connection to one server, decided before connecting:
// the destination's tlspolicy level and CA file, the name its certificate
// must match, and SMTPS when the port is 465 (TLS before the greeting,
// whatever the level, never followed by plain text). The conversation and
// the connector carry it out; the connection cache keys on it.

import QmailSupport

struct TLSPlan: Sendable, Hashable {
    /// The port where TLS starts at once (SMTPS, RFC 8314).
    static let implicitTLSPort: UInt16 = 465

    var level: TLSLevel
    /// Trusted CAs for `verify`; nil: the system's store.
    var caFile: String?
    /// The name the certificate must match, sent as SNI unless an address.
    var serverName: [UInt8]
    /// SMTPS: the handshake comes first and a failure is the report.
    var implicit: Bool
    /// control/clientcert.pem, shown when the server asks.
    var clientCertificate: String?
    /// control/tlsclientciphers.
    var ciphers: String?

    init(
        level: TLSLevel, caFile: String? = nil, serverName: [UInt8] = [], implicit: Bool = false,
        clientCertificate: String? = nil, ciphers: String? = nil
    ) {
        self.level = level
        self.caFile = caFile
        self.serverName = serverName
        self.implicit = implicit
        self.clientCertificate = clientCertificate
        self.ciphers = ciphers
    }

    /// The plan for `server`, reached on `port` for a delivery to `host`; a
    /// failure when TLS is required and the classic conversation (control/esmtp
    /// 0), which never speaks TLS, is configured.
    static func plan(
        for server: Destination, host: [UInt8], port: UInt16, configuration: Configuration
    ) -> Result<TLSPlan, LocalFailure> {
        let requirement = configuration.tlsPolicy.requirement(host: host, serverName: server.name)
        guard configuration.esmtp else {
            return requirement.level.isRequired ? .failure(.tlsNeedsESMTP) : .success(TLSPlan(level: .none))
        }
        return .success(
            TLSPlan(
                level: requirement.level, caFile: requirement.caFile, serverName: server.name,
                implicit: port == implicitTLSPort, clientCertificate: configuration.clientCertificate,
                ciphers: configuration.tlsCiphers))
    }

    /// TLS must be in place before anything of the message goes out.
    var isRequired: Bool { level.isRequired }
}
