// The delivery core's entry point: one envelope, one message, one
// configuration in; one DeliveryReport out. Checks the arguments, finds the
// server, connects (honouring the tcpto table) and runs the SMTP session.
// Never throws: every failure is a report.

public struct DeliveryRequest: Sendable {
    public var host: [UInt8]
    public var sender: [UInt8]
    public var recipients: [[UInt8]]

    public init(host: [UInt8], sender: [UInt8], recipients: [[UInt8]]) {
        self.host = host
        self.sender = sender
        self.recipients = recipients
    }
}

public enum RemoteDelivery {
    /// Delivers `message` as `qmail-remote host sender recipients...` would.
    public static func deliver(_ request: DeliveryRequest, message: some MessageSource,
                               configuration: Configuration,
                               resolver: (any Resolver)? = nil) -> DeliveryReport {
        if let problem = MailboxText.problem(in: request.sender) {
            return DeliveryReport(failure: LocalFailure.unsendableSender(problem).report)
        }
        let recipients = request.recipients.map { (address: $0, problem: MailboxText.problem(in: $0)) }
        if recipients.allSatisfy({ $0.problem != nil }) {
            return DeliveryReport(recipientReports: recipients.map { LocalFailure.unsendableRecipient($0.problem!).report },
                                  messageReport: LocalFailure.noSendableRecipient.report)
        }
        guard HostName.isDeliverable(request.host, ipv6: configuration.esmtp) else {
            return DeliveryReport(failure: LocalFailure.noSuchHost(request.host).report)
        }

        let finder = MailExchangers(resolver: resolver ?? SystemResolver(servers: configuration.dnsServers),
                                    ipv6: configuration.esmtp, preference: configuration.addressPreference)
        let destinations: (addresses: [IPAddress], port: UInt16)
        switch finder.destinations(for: request.host, route: configuration.routes.route(for: request.host)) {
        case .success(let found): destinations = found
        case .failure(let failure): return DeliveryReport(failure: failure.report)
        }

        let table = configuration.connectTimeouts
        for address in destinations.addresses {
            let verdict = table?.verdict(for: address) ?? .unknown
            if verdict == .skip { continue }
            let source = address.family == .v4 ? configuration.outgoingIPv4 : configuration.outgoingIPv6
            switch SocketConnection.connect(to: address, port: destinations.port, from: source,
                                            connectTimeout: configuration.timeoutConnect,
                                            ioTimeout: configuration.timeoutRemote) {
            case .success(let connection):
                if verdict == .timedOutBefore { table?.recordSuccess(address) }
                let session = SMTPSession(ip: address, helohost: configuration.helohost,
                                          sender: request.sender, recipients: recipients, esmtp: configuration.esmtp)
                return session.run(over: connection, message: message)
            case .failure(.timedOut):
                table?.recordTimeout(address)
            case .failure(.failed):
                continue
            }
        }
        return DeliveryReport(failure: LocalFailure.noConnection.report)
    }
}
