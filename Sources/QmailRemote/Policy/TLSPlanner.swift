// What TLS each server of one delivery gets, weighing the policies in order:
// a DANE level of tlspolicy (dane, dane-only) with the host's TLSA records
// (RFC 7672), then the recipient domain's MTA-STS policy (RFC 8461: DANE wins
// where both apply), then tlspolicy's own word. TLSA records are looked up
// once per host name, and only for a server DNSSEC vouched for; a server
// that a policy rules out is skipped with the reason, which becomes the
// report when no other server takes the message.

import QmailSupport

final class TLSPlanner {
    enum Verdict: Equatable {
        case plan(TLSPlan)
        /// Not this server; the reason is the report if no other one delivers.
        case skip(LocalFailure)
        /// No server at all (the installation's problem).
        case fail(LocalFailure)
    }

    private let configuration: Configuration
    private let host: [UInt8]
    private let resolver: any Resolver
    /// The recipient domain's MTA-STS policy, when in mode enforce or testing.
    private let mtasts: MTASTSPolicy?
    private var dane: [[UInt8]: DANEStatus] = [:]

    init(configuration: Configuration, host: [UInt8], resolver: any Resolver, mtasts: MTASTSPolicy?) {
        self.configuration = configuration
        self.host = host
        self.resolver = resolver
        self.mtasts = mtasts.flatMap { $0.mode == .none ? nil : $0 }
    }

    /// Whether the servers for `host` must be found with validated lookups:
    /// a DANE level of tlspolicy applies to it, in ESMTP mode.
    static func needsDNSSEC(host: [UInt8], configuration: Configuration) -> Bool {
        configuration.esmtp && configuration.tlsPolicy.line(for: host)?.level.isDANE == true
    }

    /// Whether the domain's MTA-STS policy is to be looked up: control/mtasts
    /// is on, the delivery goes by MX (not a route, not an address), in ESMTP
    /// mode, and tlspolicy leaves room for it (no line, or `may`, `dane`,
    /// `dane-only`).
    static func wantsMTASTS(host: [UInt8], routed: Bool, configuration: Configuration) -> Bool {
        guard configuration.mtasts, configuration.esmtp, !routed, IPAddress(literal: host, ipv6: true) == nil else {
            return false
        }
        guard let line = configuration.tlsPolicy.line(for: host) else { return true }
        return line.level == .may || line.level.isDANE
    }

    func verdict(for server: Destination, port: UInt16) -> Verdict {
        var plan: TLSPlan
        switch TLSPlan.plan(for: server, host: host, port: port, configuration: configuration) {
        case .success(let planned): plan = planned
        case .failure(let failure): return .fail(failure)
        }
        guard configuration.esmtp else { return .plan(plan) }
        if plan.level.isDANE {
            if let decided = daneVerdict(server, port: port, only: plan.level == .daneOnly, base: plan) {
                return decided
            }
            plan.level = .may
            plan.source = .opportunistic
        }
        if let mtasts, plan.level == .may {
            return mtastsVerdict(mtasts, server: server, base: plan)
        }
        return .plan(plan)
    }

    /// DANE's plan for `server`, or nil when DANE does not apply to it (then
    /// as `may`).
    private func daneVerdict(_ server: Destination, port: UInt16, only: Bool, base: TLSPlan) -> Verdict? {
        guard server.secure else { return only ? .skip(.daneInsecure(server.name)) : nil }
        let status = dane[server.name] ?? DANEStatus.of(server.name, port: port, resolver: resolver)
        dane[server.name] = status
        var plan = base
        plan.source = .dane
        plan.caFile = nil
        switch status {
        case .usable(let records):
            plan.level = .dane
            plan.tlsa = records
            return .plan(plan)
        case .unusable:
            if only { return .skip(.noUsableTLSA(server.name)) }
            plan.level = .encrypt
            return .plan(plan)
        case .none:
            return only ? .skip(.noUsableTLSA(server.name)) : nil
        case .lookupFailed:
            return .skip(.tlsaLookupFailed(server.name))
        }
    }

    private func mtastsVerdict(_ policy: MTASTSPolicy, server: Destination, base: TLSPlan) -> Verdict {
        var plan = base
        plan.caFile = configuration.mtastsCAFile
        let allowed = policy.allows(server.name)
        switch policy.mode {
        case .enforce:
            guard allowed else { return .skip(.notInMTASTSPolicy(server.name, domain: host)) }
            plan.level = .verify
            plan.source = .mtaSTS
            plan.policyDomain = host
        case .testing, .none:
            plan.testing = MTASTSTesting(
                domain: host,
                problem: allowed
                    ? nil
                    : LocalFailure.printable(String(decoding: server.name, as: UTF8.self))
                        + " is not one of its MX hosts")
        }
        return .plan(plan)
    }
}
