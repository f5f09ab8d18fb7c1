// The delivery core's entry point: one envelope, one message, one
// configuration in; one DeliveryReport out. Checks the arguments, signs the
// message when control/dkimdomains says so (Signing/), finds the servers (less
// those the caller's destination filter refuses), then tries them in order:
// first a connection kept in the cache
// (the gateway's), then new connections honouring the tcpto tables and
// timeoutconnect, each running one SMTP conversation; under TLS "may" a
// failed handshake is followed by one more connection in plain text. Each
// server's TLS comes from TLSPlanner (tlspolicy, DANE, MTA-STS); a server
// without the TLS DANE or MTA-STS enforce requires sends the delivery on to
// the next. Never throws: every failure is a report.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

public enum RemoteDelivery {
    /// Delivers `message` as `qmail-remote host sender recipients...` would.
    /// With `connections`, a connection may be taken from it and is given
    /// back after a 250 to the final dot instead of QUIT.
    public static func deliver(
        _ request: DeliveryRequest, message: some MessageSource, configuration: Configuration,
        resolver: (any Resolver)? = nil, connections: ConnectionCache? = nil
    ) -> DeliveryReport {
        deliver(
            request, message: message, configuration: configuration,
            resolver: resolver ?? SystemResolver(servers: configuration.dnsServers), connector: SystemConnector(),
            connections: connections, policyFetcher: HTTPSPolicyFetcher())
    }

    static func deliver(
        _ request: DeliveryRequest, message: some MessageSource, configuration: Configuration,
        resolver: any Resolver, connector: some Connector, connections: ConnectionCache?,
        localAddresses: @escaping () -> Set<IPAddress>? = LocalAddresses.current,
        policyFetcher: any PolicyFetcher = HTTPSPolicyFetcher(), now: @escaping () -> Int = { Int(time(nil)) }
    ) -> DeliveryReport {
        if let problem = MailboxText.problem(in: request.sender) {
            return DeliveryReport(failure: LocalFailure.unsendableSender(problem).report)
        }
        let recipients = request.recipients.map { (address: $0, problem: MailboxText.problem(in: $0)) }
        if recipients.allSatisfy({ $0.problem != nil }) {
            return DeliveryReport(
                recipientReports: recipients.map { LocalFailure.unsendableRecipient($0.problem!).report },
                messageReport: LocalFailure.noSendableRecipient.report)
        }
        guard HostName.isDeliverable(request.host, ipv6: configuration.esmtp) else {
            return DeliveryReport(failure: LocalFailure.noSuchHost(request.host).report)
        }
        guard let dkimDomains = configuration.dkimDomains else {
            return send(
                request, message: message, recipients: recipients, configuration: configuration, resolver: resolver,
                connector: connector, connections: connections, localAddresses: localAddresses,
                policyFetcher: policyFetcher, now: now)
        }
        switch MessageSigning.sign(message, sender: request.sender, domains: dkimDomains, now: now()) {
        case .unsigned(let unsigned):
            return send(
                request, message: unsigned, recipients: recipients, configuration: configuration, resolver: resolver,
                connector: connector, connections: connections, localAddresses: localAddresses,
                policyFetcher: policyFetcher, now: now)
        case .signed(let signed, let signatures):
            var report = send(
                request, message: signed, recipients: recipients, configuration: configuration, resolver: resolver,
                connector: connector, connections: connections, localAddresses: localAddresses,
                policyFetcher: policyFetcher, now: now)
            report.signatures = signatures
            return report
        case .failed(let failure, let diagnostic):
            var report = DeliveryReport(failure: failure.report)
            report.diagnostic = diagnostic
            return report
        }
    }

    /// From the checked request on: the route, the servers, the tries.
    private static func send(
        _ request: DeliveryRequest, message: some MessageSource,
        recipients: [(address: [UInt8], problem: MailboxText.Problem?)], configuration: Configuration,
        resolver: any Resolver, connector: some Connector, connections: ConnectionCache?,
        localAddresses: @escaping () -> Set<IPAddress>?, policyFetcher: any PolicyFetcher, now: @escaping () -> Int
    ) -> DeliveryReport {
        let route = configuration.routes.route(for: request.host)
        let finder = MailExchangers(
            resolver: resolver, ipv6: configuration.esmtp, preference: configuration.addressPreference,
            dnssec: TLSPlanner.needsDNSSEC(host: request.host, configuration: configuration),
            localAddresses: localAddresses)
        var destinations: DestinationList
        switch finder.destinations(for: request.host, route: route) {
        case .success(let found): destinations = found
        case .failure(let failure): return DeliveryReport(failure: failure.report)
        }
        if let filter = request.destinationFilter, !destinations.routed {
            switch filter.apply(to: destinations.servers) {
            case .success(let kept): destinations.servers = kept
            case .failure(let failure): return DeliveryReport(failure: failure.report)
            }
        }

        var mtasts: MTASTSPolicy?
        if TLSPlanner.wantsMTASTS(host: request.host, routed: destinations.routed, configuration: configuration) {
            mtasts = MTASTSLookup(
                resolver: resolver, cache: configuration.mtastsCache, fetcher: policyFetcher,
                caFile: configuration.mtastsCAFile, timeout: configuration.timeoutRemote,
                connectTimeout: configuration.timeoutConnect, preference: configuration.addressPreference, now: now
            ).policy(for: request.host)
        }
        let planner = TLSPlanner(
            configuration: configuration, host: request.host, resolver: resolver, mtasts: mtasts)
        let attempt = Attempt(
            request: request, recipients: recipients, configuration: configuration, credentials: route?.credentials,
            port: destinations.port, connector: connector, connections: connections, planner: planner)
        if let report = attempt.reuse(destinations.servers, message: message) { return report }
        return attempt.connect(destinations.servers, message: message)
    }
}

/// One delivery's tries, server by server.
private struct Attempt<Network: Connector> {
    let request: DeliveryRequest
    let recipients: [(address: [UInt8], problem: MailboxText.Problem?)]
    let configuration: Configuration
    let credentials: Credentials?
    let port: UInt16
    let connector: Network
    let connections: ConnectionCache?
    let planner: TLSPlanner

    /// A cached connection to any of the servers, in their order. One that
    /// turns out stale sends the delivery on to new connections, as if the
    /// cache had been empty.
    func reuse(_ servers: [Destination], message: some MessageSource) -> DeliveryReport? {
        guard let connections, connections.reuseEnabled else { return nil }
        for server in servers {
            guard case .plan(let plan) = planner.verdict(for: server, port: port),
                let session = connections.take(key(server, plan))
            else { continue }
            var conversation = conversation(
                server, opening: .reused(session.extensions, tls: session.tls),
                mayKeep: connections.mayKeep(afterCarrying: session.messagesCarried))
            let ending = session.converse(
                &conversation, message: message, proceed: request.proceed,
                secure: { _ in .failure(.failed("TLS is already in place")) })
            switch ending {
            case .report(let report, let disposal):
                connections.noteReused()
                if disposal == .keep { connections.put(session, key: key(server, plan)) }
                return report
            case .stale, .retryInPlainText, .tlsRefused:
                return nil
            }
        }
        return nil
    }

    /// New connections, server by server: addresses that timed out recently
    /// are skipped (tcpto); the first conversation that starts is the report,
    /// unless it ends for want of the TLS that DANE or MTA-STS requires.
    func connect(_ servers: [Destination], message: some MessageSource) -> DeliveryReport {
        let table = configuration.connectTimeouts
        // Why the last server a policy ruled out (before connecting, or for
        // its TLS) did not take the message: the report if no other does.
        var policyRefusal: DeliveryReport?
        servers: for server in servers {
            let verdict = table?.verdict(for: server.address) ?? .unknown
            if verdict == .skip { continue }
            var plan: TLSPlan
            switch planner.verdict(for: server, port: port) {
            case .plan(let planned): plan = planned
            case .skip(let refusal):
                policyRefusal = DeliveryReport(failure: refusal.report)
                continue servers
            case .fail(let failure): return DeliveryReport(failure: failure.report)
            }
            // Twice at most: the second time in plain text, after a failed
            // handshake under "may".
            for attempt in 0..<2 {
                let source = server.address.family == .v4 ? configuration.outgoingIPv4 : configuration.outgoingIPv6
                let connection: any Connection
                switch connector.connect(
                    to: server.address, port: port, from: source, connectTimeout: configuration.timeoutConnect,
                    ioTimeout: configuration.timeoutRemote)
                {
                case .success(let connected): connection = connected
                case .failure(.timedOut):
                    table?.recordTimeout(server.address)
                    continue servers
                case .failure(.failed):
                    continue servers
                }
                if attempt == 0 && verdict == .timedOutBefore { table?.recordSuccess(server.address) }
                connections?.noteOpened()
                let session = SMTPSession(connection: connection, ip: server.address)
                var conversation = conversation(
                    server, opening: .fresh(plan), mayKeep: connections?.mayKeep(afterCarrying: 0) ?? false)
                let ending = session.converse(
                    &conversation, message: message, proceed: request.proceed,
                    secure: { [connector, plan] in connector.secure($0, plan: plan) })
                switch ending {
                case .report(let report, let disposal):
                    if disposal == .keep, let connections { connections.put(session, key: key(server, plan)) }
                    return report
                case .tlsRefused(let report, _):
                    policyRefusal = report
                    continue servers
                case .retryInPlainText:
                    plan.level = .none
                    if plan.testing != nil && plan.testing?.problem == nil {
                        plan.testing?.problem = "the TLS handshake failed"
                    }
                case .stale:
                    preconditionFailure("a new connection is never stale")
                }
            }
        }
        return policyRefusal ?? DeliveryReport(failure: LocalFailure.noConnection.report)
    }

    private func conversation(
        _ server: Destination, opening: SMTPConversation.Opening, mayKeep: Bool
    ) -> SMTPConversation {
        SMTPConversation(
            ip: server.address, helohost: configuration.helohost, sender: request.sender, recipients: recipients,
            esmtp: configuration.esmtp, credentials: configuration.esmtp ? credentials : nil, opening: opening,
            mayKeep: mayKeep)
    }

    private func key(_ server: Destination, _ plan: TLSPlan) -> SessionKey {
        SessionKey(
            address: server.address, port: port,
            source: server.address.family == .v4 ? configuration.outgoingIPv4 : configuration.outgoingIPv6,
            helohost: configuration.helohost, esmtp: configuration.esmtp, tls: plan,
            credentials: configuration.esmtp ? credentials : nil)
    }
}
