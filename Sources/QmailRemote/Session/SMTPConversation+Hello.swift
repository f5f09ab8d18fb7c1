// The conversation's opening on a new connection: the greeting, EHLO (HELO
// when EHLO is refused, or in the classic conversation), STARTTLS and EHLO
// again when the plan asks for TLS and the server offers it, and SMTPS's
// handshake before the greeting. One check of the certificate for both ways
// TLS starts: a CA chain and name (verify, MTA-STS enforce) or TLSA records
// (DANE); under MTA-STS testing a failure is only noted for the report, under
// DANE and MTA-STS enforce it lets the delivery try the next server.

extension SMTPConversation {
    /// TLS required and not in place yet.
    private var tlsRequired: Bool { tls == nil && plan.isRequired }

    mutating func greeting(_ reply: Reply) -> Action {
        guard reply.code.verdict(at: .greeting) == .accepted else {
            return finish(RemoteReport.greetingFailed(ip: ip, reply: reply), .quit)
        }
        return esmtp ? send(Command.ehlo(helohost), then: .firstEHLO) : send(Command.helo(helohost), then: .helo)
    }

    mutating func firstEHLO(_ reply: Reply) -> Action {
        switch reply.code.verdict(at: .firstEHLO) {
        case .accepted:
            extensions = Extensions(ehloReply: reply)
            guard tls == nil, plan.level != .none else { return loginOrTransaction() }
            if extensions.has("STARTTLS") { return send(Command.startTLS, then: .startTLS) }
            if tlsRequired { return refuse(startTLSNotOffered.report, .quit) }
            notePolicyProblem("it does not offer STARTTLS")
            return loginOrTransaction()
        case .permanent:
            // Refused: HELO is worth a try, unless TLS is required (HELO has no STARTTLS).
            if tlsRequired { return refuse(startTLSNotOffered.report, .quit) }
            notePolicyProblem("it refused EHLO, so no STARTTLS")
            return send(Command.helo(helohost), then: .helo)
        case .temporary:
            return finish(RemoteReport.nameRejected(ip: ip, reply: reply), .quit)
        }
    }

    mutating func helo(_ reply: Reply) -> Action {
        guard reply.code.verdict(at: .hello) == .accepted else {
            return finish(RemoteReport.nameRejected(ip: ip, reply: reply), .quit)
        }
        extensions = Extensions()
        return esmtp ? loginOrTransaction() : beginTransaction()
    }

    mutating func startTLSReply(_ reply: Reply) -> Action {
        guard reply.code.verdict(at: .startTLS) == .accepted else {
            if tlsRequired { return refuse(RemoteReport.startTLSRefused(ip: ip, reply: reply), .quit) }
            notePolicyProblem("it refused STARTTLS")
            return loginOrTransaction()
        }
        state = .handshake(implicit: false)
        return .startTLS
    }

    mutating func tlsStarted(_ summary: TLSSummary, implicit: Bool) -> Action {
        var summary = summary
        summary.policy = plan.source
        tls = summary
        if let refusal = certificateRefusal(summary) {
            // Before the greeting (SMTPS) nothing was said, so nothing is to be ended.
            return refuse(refusal.report, implicit ? .close : .quit)
        }
        if !summary.verified {
            notePolicyProblem(
                "its certificate for \(LocalFailure.printable(plan.serverName)) was not verified: \(LocalFailure.printable(summary.verifyProblem ?? ""))"
            )
        }
        if implicit {
            state = .greeting
            return .receive
        }
        // RFC 3207: forget what was said before TLS, and ask again.
        return send(Command.ehlo(helohost), then: .ehloAfterTLS)
    }

    /// Why the certificate is not good enough for the plan, if it is not.
    private func certificateRefusal(_ summary: TLSSummary) -> LocalFailure? {
        guard !summary.verified else { return nil }
        let reason = summary.verifyProblem ?? ""
        switch plan.level {
        case .dane: return .noTLSAMatch(ip, name: plan.serverName, reason: reason)
        case .verify where plan.source == .mtaSTS:
            return .certificateNotVerifiedUnderPolicy(
                ip, name: plan.serverName, reason: reason, domain: plan.policyDomain)
        case .verify: return .certificateNotVerified(ip, name: plan.serverName, reason: reason)
        default: return nil
        }
    }

    /// TLS is required and STARTTLS is not offered: in the words of whoever requires it.
    private var startTLSNotOffered: LocalFailure {
        switch plan.source {
        case .dane: return .startTLSNotOfferedUnderPolicy(ip, .dane(plan.serverName))
        case .mtaSTS: return .startTLSNotOfferedUnderPolicy(ip, .mtaSTS(plan.policyDomain))
        case .tlspolicy, .opportunistic: return .startTLSNotOffered(ip)
        }
    }

    /// Under MTA-STS testing: the first thing enforce would have refused.
    mutating func notePolicyProblem(_ problem: String) {
        if plan.testing != nil && policyProblem == nil { policyProblem = problem }
    }

    mutating func tlsFailed(_ failure: TLSFailure, implicit: Bool) -> Action {
        if !implicit && plan.level == .may { return end(.retryInPlainText) }
        return refuse(LocalFailure.tlsHandshakeFailed(ip, reason: failure.reason).report, .close)
    }

    /// Ends because the TLS the plan requires could not be had: under DANE
    /// and MTA-STS enforce the delivery may go on to the next server; under
    /// tlspolicy this conversation is the report, as any other.
    private mutating func refuse(_ report: Report, _ disposal: Disposal) -> Action {
        let ended = finish(report, disposal)
        guard plan.source == .dane || plan.source == .mtaSTS, case .finish(.report(let delivery, let disposal)) = ended
        else { return ended }
        return .finish(.tlsRefused(delivery, disposal))
    }

    mutating func ehloAfterTLS(_ reply: Reply) -> Action {
        guard reply.code.verdict(at: .hello) == .accepted else {
            return finish(RemoteReport.nameRejected(ip: ip, reply: reply), .quit)
        }
        extensions = Extensions(ehloReply: reply)
        return loginOrTransaction()
    }
}
