// The delivery core's entry point: one envelope, one message, one
// configuration in; one DeliveryReport out. Checks the arguments, finds the
// servers, connects (honouring the tcpto tables, SMTPS on port 465), plans
// TLS per server and runs the SMTP session; under TLS "may" a failed
// handshake is followed by one more connection in plain text. Never throws:
// every failure is a report.

/// A point in sending the message where the caller may stop the delivery.
public enum DeliveryStep: Sendable { case messageData, finalDot }

public struct DeliveryRequest: Sendable {
    public var host: [UInt8]
    public var sender: [UInt8]
    public var recipients: [[UInt8]]
    /// Asked before each write of message data and, last, right before the final dot.
    /// false stops the delivery there: no more data, no dot, and the connection is
    /// closed; the message report is LocalFailure.stoppedBeforeFinalDot.
    public var proceed: (@Sendable (DeliveryStep) -> Bool)?

    public init(
        host: [UInt8], sender: [UInt8], recipients: [[UInt8]], proceed: (@Sendable (DeliveryStep) -> Bool)? = nil
    ) {
        self.host = host
        self.sender = sender
        self.recipients = recipients
        self.proceed = proceed
    }
}

public enum RemoteDelivery {
    /// The port where TLS starts at once (SMTPS, RFC 8314).
    static let implicitTLSPort: UInt16 = 465

    /// Delivers `message` as `qmail-remote host sender recipients...` would.
    public static func deliver(
        _ request: DeliveryRequest, message: some MessageSource,
        configuration: Configuration,
        resolver: (any Resolver)? = nil
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

        let route = configuration.routes.route(for: request.host)
        let finder = MailExchangers(
            resolver: resolver ?? SystemResolver(servers: configuration.dnsServers),
            ipv6: configuration.esmtp, preference: configuration.addressPreference)
        let servers: [Destination], port: UInt16
        switch finder.destinations(for: request.host, route: route) {
        case .success(let found): (servers, port) = found
        case .failure(let failure): return DeliveryReport(failure: failure.report)
        }

        let table = configuration.connectTimeouts
        servers: for server in servers {
            let verdict = table?.verdict(for: server.address) ?? .unknown
            if verdict == .skip { continue }
            let policy = configuration.tlsPolicy.requirement(host: request.host, serverName: server.name)
            if !configuration.esmtp && policy.level.isRequired {
                return DeliveryReport(failure: LocalFailure.tlsNeedsESMTP.report)
            }
            var requirement = configuration.esmtp ? policy : TLSRequirement(level: .none)
            let session = SMTPSession(
                ip: server.address, helohost: configuration.helohost, sender: request.sender,
                recipients: recipients, esmtp: configuration.esmtp, credentials: route?.credentials,
                proceed: request.proceed)
            // Twice at most: the second time in plain text, after a failed
            // handshake under "may".
            for attempt in 0..<2 {
                let socket: SocketConnection
                switch connect(server.address, port: port, configuration: configuration) {
                case .success(let connected): socket = connected
                case .failure(.timedOut):
                    table?.recordTimeout(server.address)
                    continue servers
                case .failure(.failed):
                    continue servers
                }
                if attempt == 0 && verdict == .timedOutBefore { table?.recordSuccess(server.address) }
                switch converse(
                    session, over: socket, server: server, port: port, requirement: requirement,
                    configuration: configuration, message: message)
                {
                case .report(let report): return report
                case .retryInPlainText: requirement = TLSRequirement(level: .none)
                }
            }
        }
        return DeliveryReport(failure: LocalFailure.noConnection.report)
    }

    /// One connection's conversation, with TLS as planned: at once on port
    /// 465, else by STARTTLS.
    private static func converse(
        _ session: SMTPSession, over socket: SocketConnection, server: Destination, port: UInt16,
        requirement: TLSRequirement, configuration: Configuration,
        message: some MessageSource
    ) -> SessionOutcome {
        func handshake() -> Result<TLSConnection, TLSFailure> {
            TLSContextCache.context(
                caFile: requirement.caFile, clientCertificate: configuration.clientCertificate,
                ciphers: configuration.tlsCiphers
            )
            .flatMap { TLSConnection.handshake(over: socket, context: $0, serverName: server.name) }
        }
        if port == implicitTLSPort && configuration.esmtp {
            let secured: TLSConnection
            switch handshake() {
            case .success(let connection): secured = connection
            case .failure(let failure):
                socket.close()
                return .report(
                    DeliveryReport(
                        failure: LocalFailure.tlsHandshakeFailed(server.address, reason: failure.reason).report))
            }
            if requirement.level == .verify && !secured.summary.verified {
                secured.close()
                return .report(
                    DeliveryReport(
                        failure: LocalFailure.certificateNotVerified(
                            server.address, name: server.name, reason: secured.summary.verifyProblem ?? ""
                        ).report))
            }
            return session.run(
                over: secured, message: message,
                tls: TLSPlan(requirement: requirement, serverName: server.name, implicit: secured.summary))
        }
        let plan = TLSPlan(
            requirement: requirement, serverName: server.name,
            upgrade: requirement.level == .none ? nil : { _ in handshake() })
        return session.run(over: socket, message: message, tls: plan)
    }

    private static func connect(
        _ address: IPAddress, port: UInt16, configuration: Configuration
    ) -> Result<SocketConnection, ConnectFailure> {
        let source = address.family == .v4 ? configuration.outgoingIPv4 : configuration.outgoingIPv6
        return SocketConnection.connect(
            to: address, port: port, from: source,
            connectTimeout: configuration.timeoutConnect, ioTimeout: configuration.timeoutRemote)
    }
}
