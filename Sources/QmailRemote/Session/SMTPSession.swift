// One SMTP conversation on an open connection. Classic mode is qmail-remote's
// to the byte: greeting, HELO, MAIL, RCPT for each recipient, DATA, the
// message, the dot, QUIT without waiting. ESMTP mode says EHLO (HELO when
// refused), STARTTLS as the TLS plan says (EHLO again after it), logs in when
// the route has credentials, uses SIZE, 8BITMIME, SMTPUTF8 and PIPELINING
// when offered, and reports exactly as the classic one would. Every path ends
// in a report, or (TLS "may", failed handshake) a request to try again in
// plain text; nothing throws out.

public enum SessionOutcome: Sendable {
    case report(DeliveryReport)
    /// The TLS handshake failed under "may": connect again and go without TLS.
    case retryInPlainText
}

/// How TLS goes for one connection.
public struct TLSPlan {
    public var requirement: TLSRequirement
    /// The name the certificate must match (for reports).
    public var serverName: [UInt8]
    /// Turns the connection into TLS after STARTTLS; nil: no TLS possible.
    public var upgrade: ((any Connection) -> Result<TLSConnection, TLSFailure>)?
    /// TLS already in place from the start (SMTPS, port 465).
    public var implicit: TLSSummary?

    public init(
        requirement: TLSRequirement, serverName: [UInt8] = [],
        upgrade: ((any Connection) -> Result<TLSConnection, TLSFailure>)? = nil, implicit: TLSSummary? = nil
    ) {
        self.requirement = requirement
        self.serverName = serverName
        self.upgrade = upgrade
        self.implicit = implicit
    }
}

public struct SMTPSession {
    public let ip: IPAddress
    public let helohost: [UInt8]
    public let sender: [UInt8]
    /// Each recipient with the reason it cannot be sent, if any: such a one
    /// gets its `h` report in its place and is never sent.
    public let recipients: [(address: [UInt8], problem: MailboxText.Problem?)]
    public let esmtp: Bool
    /// The route's login, if any (ESMTP mode only).
    public let credentials: Credentials?
    /// Asked before each write of message data and before the final dot (DeliveryRequest.proceed).
    public let proceed: (@Sendable (DeliveryStep) -> Bool)?

    /// The message is read and sent in pieces of this size.
    static let chunkSize = 65536
    /// Commands written at once when pipelining, before their replies are read.
    static let pipelineWindow = 100

    public init(
        ip: IPAddress, helohost: [UInt8], sender: [UInt8],
        recipients: [(address: [UInt8], problem: MailboxText.Problem?)], esmtp: Bool = false,
        credentials: Credentials? = nil, proceed: (@Sendable (DeliveryStep) -> Bool)? = nil
    ) {
        self.ip = ip
        self.helohost = helohost
        self.sender = sender
        self.recipients = recipients
        self.esmtp = esmtp
        self.credentials = credentials
        self.proceed = proceed
    }

    enum Stop: Error {
        case died
        case replyTooLong
        case unreadableMessage
        case partialFinalLine
        /// `proceed` said no: no more data, no dot.
        case stopped
    }

    /// Without TLS (the classic way, and unit tests).
    public func run(over connection: any Connection, message: some MessageSource) -> DeliveryReport {
        switch run(over: connection, message: message, tls: TLSPlan(requirement: TLSRequirement(level: .none))) {
        case .report(let report): return report
        case .retryInPlainText:
            return DeliveryReport(failure: LocalFailure.connectionDied(ip, possibleDuplicate: false).report)
        }
    }

    public func run(over connection: any Connection, message: some MessageSource, tls plan: TLSPlan) -> SessionOutcome {
        var channel = Channel(connection: connection)
        var recipientReports: [Report] = []
        var afterFinalDot = false
        var tls = plan.implicit
        defer { channel.connection.close() }

        func finish(_ report: Report, possibleDuplicate: Bool = false) -> SessionOutcome {
            var delivery = DeliveryReport(recipientReports: recipientReports, messageReport: report)
            delivery.tls = tls
            delivery.possibleDuplicate = possibleDuplicate
            return .report(delivery)
        }
        func quit(_ report: Report) -> SessionOutcome {
            channel.finishPipeline()
            try? channel.connection.write(Command.quit)
            return finish(report)
        }

        do {
            let greeting = try channel.read()
            guard greeting.code.isGoodGreeting else {
                return quit(RemoteReport.greetingFailed(ip: ip, reply: greeting))
            }

            var extensions = Extensions()
            if esmtp {
                switch try hello(&channel, plan: plan, tls: &tls) {
                case .ready(let offered): extensions = offered
                case .quit(let report): return quit(report)
                case .broken(let report): return finish(report)
                case .retryInPlainText: return .retryInPlainText
                }
                if let refusal = try login(&channel, extensions: extensions, encrypted: tls != nil) {
                    return quit(refusal)
                }
            } else {
                try channel.send(Command.helo(helohost))
                let hello = try channel.read()
                guard hello.code.isGoodHello else { return quit(RemoteReport.nameRejected(ip: ip, reply: hello)) }
            }

            let sendable = recipients.filter { $0.problem == nil }.map(\.address)
            let international =
                MailboxText.isInternational(sender) || sendable.contains(where: MailboxText.isInternational)
            var parameters: [String] = []
            if esmtp {
                if international {
                    guard extensions.has("SMTPUTF8") else { return quit(LocalFailure.noSMTPUTF8(ip).report) }
                }
                let facts = extensions.has("SIZE") || extensions.has("8BITMIME") ? message.facts() : nil
                if let facts, extensions.has("SIZE") {
                    if let limit = extensions.sizeLimit, facts.size > limit {
                        return quit(LocalFailure.tooLargeForServer(ip, size: facts.size, limit: limit).report)
                    }
                    parameters.append("SIZE=\(facts.size)")
                }
                if facts?.eightBit == true && extensions.has("8BITMIME") { parameters.append("BODY=8BITMIME") }
                if international { parameters.append("SMTPUTF8") }
            }
            let utf8 = esmtp && international

            // MAIL, each sendable RCPT, DATA: one at a time, or pipelined in
            // windows; the replies are taken in order either way.
            channel.queue(
                [Command.mailFrom(sender, parameters: parameters, utf8: utf8)]
                    + sendable.map { Command.rcptTo($0, utf8: utf8) } + [Command.data],
                window: extensions.has("PIPELINING") ? Self.pipelineWindow : 1)

            let mail = try channel.nextReply()
            switch mail.code.verdict {
            case .permanent: return quit(RemoteReport.senderRejected(.messageFailed, ip: ip, reply: mail))
            case .temporary: return quit(RemoteReport.senderRejected(.messageDeferred, ip: ip, reply: mail))
            case .accepted: break
            }

            var anyAccepted = false
            for recipient in recipients {
                if let problem = recipient.problem {
                    recipientReports.append(LocalFailure.unsendableRecipient(problem).report)
                    continue
                }
                let rcpt = try channel.nextReply()
                switch rcpt.code.verdict {
                case .permanent:
                    recipientReports.append(RemoteReport.recipient(.recipientRejected, ip: ip, reply: rcpt))
                case .temporary:
                    recipientReports.append(RemoteReport.recipient(.recipientDeferred, ip: ip, reply: rcpt))
                case .accepted:
                    recipientReports.append(Report(.recipientAccepted, []))
                    anyAccepted = true
                }
            }
            guard anyAccepted else { return quit(RemoteReport.givingUp(ip: ip)) }

            let data = try channel.nextReply()
            switch data.code.verdict {
            case .permanent: return quit(RemoteReport.dataFailed(.messageFailed, ip: ip, reply: data))
            case .temporary: return quit(RemoteReport.dataFailed(.messageDeferred, ip: ip, reply: data))
            case .accepted: break
            }

            try sendMessage(message, over: channel.connection)
            afterFinalDot = true
            let final = try channel.read()
            switch final.code.verdict {
            case .permanent: return quit(RemoteReport.messageFailed(.messageFailed, ip: ip, reply: final))
            case .temporary: return quit(RemoteReport.messageFailed(.messageDeferred, ip: ip, reply: final))
            case .accepted: return quit(RemoteReport.accepted(ip: ip, reply: final))
            }
        } catch {
            let failure: LocalFailure
            switch error {
            case .died: failure = .connectionDied(ip, possibleDuplicate: afterFinalDot)
            case .replyTooLong: failure = .replyTooLong(ip, possibleDuplicate: afterFinalDot)
            case .unreadableMessage: failure = .unreadableMessage
            case .partialFinalLine: failure = .partialFinalLine
            case .stopped: failure = .stoppedBeforeFinalDot
            }
            return finish(failure.report, possibleDuplicate: afterFinalDot)
        }
    }

    private enum Hello {
        case ready(Extensions)
        /// Report, after QUIT.
        case quit(Report)
        /// Report; the connection is in no state for QUIT.
        case broken(Report)
        case retryInPlainText
    }

    /// EHLO (HELO when EHLO is refused), then STARTTLS and EHLO again when
    /// the plan asks for TLS and the server offers it.
    private func hello(_ channel: inout Channel, plan: TLSPlan, tls: inout TLSSummary?) throws(Stop) -> Hello {
        let required = tls == nil && plan.requirement.level.isRequired
        try channel.send(Command.ehlo(helohost))
        var ehlo = try channel.read()
        guard ehlo.code.isGoodHello else {
            guard ehlo.code.refusesEHLO else { return .quit(RemoteReport.nameRejected(ip: ip, reply: ehlo)) }
            if required { return .quit(LocalFailure.startTLSNotOffered(ip).report) }
            try channel.send(Command.helo(helohost))
            let hello = try channel.read()
            return hello.code.isGoodHello
                ? .ready(Extensions()) : .quit(RemoteReport.nameRejected(ip: ip, reply: hello))
        }
        let extensions = Extensions(ehloReply: ehlo)
        guard tls == nil, plan.requirement.level != .none, let upgrade = plan.upgrade else { return .ready(extensions) }
        guard extensions.has("STARTTLS") else {
            return required ? .quit(LocalFailure.startTLSNotOffered(ip).report) : .ready(extensions)
        }
        try channel.send(Command.startTLS)
        let ready = try channel.read()
        guard ready.code.isReadyForTLS else {
            return required ? .quit(RemoteReport.startTLSRefused(ip: ip, reply: ready)) : .ready(extensions)
        }
        switch upgrade(channel.connection) {
        case .failure(let failure):
            if plan.requirement.level == .may { return .retryInPlainText }
            return .broken(LocalFailure.tlsHandshakeFailed(ip, reason: failure.reason).report)
        case .success(let secured):
            channel.secure(secured)
            tls = secured.summary
            if plan.requirement.level == .verify && !secured.summary.verified {
                return .quit(
                    LocalFailure.certificateNotVerified(
                        ip, name: plan.serverName,
                        reason: secured.summary.verifyProblem ?? ""
                    ).report)
            }
        }
        // RFC 3207: forget what was said before TLS, and ask again.
        try channel.send(Command.ehlo(helohost))
        ehlo = try channel.read()
        guard ehlo.code.isGoodHello else { return .quit(RemoteReport.nameRejected(ip: ip, reply: ehlo)) }
        return .ready(Extensions(ehloReply: ehlo))
    }

    /// Streams the message through the encoder; the last piece and the final
    /// dot go out in one write. Memory stays at about two chunks.
    private func sendMessage(_ message: some MessageSource, over connection: any Connection) throws(Stop) {
        var encoder = MessageEncoder()
        var input = [UInt8](unsafeUninitializedCapacity: Self.chunkSize) { $1 = Self.chunkSize }
        var output: [UInt8] = []
        output.reserveCapacity(Self.chunkSize * 2 + 8)
        while true {
            let count: Int
            do {
                count = try input.withUnsafeMutableBytes { raw throws(MessageReadError) in try message.read(into: raw) }
            } catch {
                throw .unreadableMessage
            }
            if count == 0 { break }
            input.withUnsafeBytes { encoder.encode(UnsafeRawBufferPointer(rebasing: $0[0..<count]), into: &output) }
            if output.count >= Self.chunkSize {
                if proceed?(.messageData) == false { throw .stopped }
                do { try connection.write(output) } catch { throw .died }
                output.removeAll(keepingCapacity: true)
            }
        }
        guard encoder.endsWithCompleteLine else { throw .partialFinalLine }
        // Stopping here leaves the server without a dot: QUIT would only be
        // more message text, so the connection is simply closed.
        if proceed?(.finalDot) == false { throw .stopped }
        output.append(contentsOf: Command.endOfData)
        do { try connection.write(output) } catch { throw .died }
    }
}

extension ReplyCode {
    /// A reply to EHLO after which HELO is worth a try: 5xx, or 4xx but 421
    /// (421 means the server is closing the connection).
    var refusesEHLO: Bool { value >= 400 && value != 421 }
    /// STARTTLS must be answered with exactly 220.
    var isReadyForTLS: Bool { value == 220 }
    /// AUTH: 334 asks for the next piece; 235 (or another 2xx) is success.
    var isAuthContinue: Bool { value == 334 }
    var isAuthSuccess: Bool { value >= 200 && value < 300 }
}
