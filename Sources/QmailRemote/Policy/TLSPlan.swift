// How TLS goes on one connection to one server, decided before connecting:
// the level and CA file, the name its certificate must match, SMTPS when the
// port is 465 (TLS before the greeting, whatever the level, never followed by
// plain text), DANE's TLSA records, and which policy decided (tlspolicy,
// DANE, MTA-STS, or none: opportunistic). `plan` is tlspolicy's word alone;
// TLSPlanner weighs DANE and MTA-STS on top. The conversation and the
// connector carry it out; the connection cache keys on it.

import QmailSupport

/// Which policy decided a connection's TLS (the gateway's "policy").
public enum TLSPolicySource: String, Sendable, Hashable {
    /// No policy: STARTTLS when offered, nothing checked.
    case opportunistic
    /// control/tlspolicy, tlshosts/ or notlshosts/.
    case tlspolicy
    /// TLSA records (RFC 7672).
    case dane
    /// The recipient domain's MTA-STS policy in mode enforce (RFC 8461).
    case mtaSTS = "mta-sts"
}

/// MTA-STS in mode testing: deliver as without it, and say what would have failed.
struct MTASTSTesting: Sendable, Hashable {
    /// The recipient domain whose policy it is.
    let domain: [UInt8]
    /// What would have failed already before connecting (an MX host not in the policy).
    var problem: String?
}

struct TLSPlan: Sendable, Hashable {
    /// The port where TLS starts at once (SMTPS, RFC 8314).
    static let implicitTLSPort: UInt16 = 465

    var level: TLSLevel
    /// Trusted CAs for `verify`; nil: the system's store.
    var caFile: String?
    /// The name the certificate must match, sent as SNI unless an address;
    /// under DANE the TLSA base domain (the MX host).
    var serverName: [UInt8]
    /// SMTPS: the handshake comes first and a failure is the report.
    var implicit: Bool
    /// control/clientcert.pem, shown when the server asks.
    var clientCertificate: String?
    /// control/tlsclientciphers.
    var ciphers: String?
    /// Level `dane`: the usable TLSA records the certificate must match.
    var tlsa: [TLSARecord] = []
    var source: TLSPolicySource = .opportunistic
    /// The recipient domain whose MTA-STS policy requires TLS (source mtaSTS).
    var policyDomain: [UInt8] = []
    var testing: MTASTSTesting?

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

    /// tlspolicy's plan for `server`, reached on `port` for a delivery to
    /// `host`; a failure when TLS is required and the classic conversation
    /// (control/esmtp 0), which never speaks TLS, is configured. A DANE level
    /// is left for TLSPlanner (in the classic conversation `dane` is `none`).
    static func plan(
        for server: Destination, host: [UInt8], port: UInt16, configuration: Configuration
    ) -> Result<TLSPlan, LocalFailure> {
        let requirement = configuration.tlsPolicy.requirement(host: host, serverName: server.name)
        guard configuration.esmtp else {
            let required = requirement.level.isRequired && requirement.level != .dane
            return required ? .failure(.tlsNeedsESMTP) : .success(TLSPlan(level: .none))
        }
        var plan = TLSPlan(
            level: requirement.level, caFile: requirement.caFile, serverName: server.name,
            implicit: port == implicitTLSPort, clientCertificate: configuration.clientCertificate,
            ciphers: configuration.tlsCiphers)
        plan.source = requirement.explicit ? .tlspolicy : .opportunistic
        return .success(plan)
    }

    /// TLS must be in place before anything of the message goes out.
    var isRequired: Bool { level.isRequired }
}
