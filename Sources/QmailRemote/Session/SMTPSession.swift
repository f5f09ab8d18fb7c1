// One SMTP conversation on an open connection. Classic mode is qmail-remote's
// to the byte: greeting, HELO, MAIL, RCPT for each recipient, DATA, the
// message, the dot, QUIT without waiting. ESMTP mode says EHLO (HELO when
// refused), uses SIZE, 8BITMIME, SMTPUTF8 and PIPELINING when offered, and
// reports exactly as the classic one would. Every path ends in a
// DeliveryReport; nothing throws out.

public struct SMTPSession {
    public let ip: IPAddress
    public let helohost: [UInt8]
    public let sender: [UInt8]
    /// Each recipient with the reason it cannot be sent, if any: such a one
    /// gets its `h` report in its place and is never sent.
    public let recipients: [(address: [UInt8], problem: MailboxText.Problem?)]
    public let esmtp: Bool

    /// The message is read and sent in pieces of this size.
    static let chunkSize = 65536
    /// Commands written at once when pipelining, before their replies are read.
    static let pipelineWindow = 100

    public init(ip: IPAddress, helohost: [UInt8], sender: [UInt8],
                recipients: [(address: [UInt8], problem: MailboxText.Problem?)], esmtp: Bool = false) {
        self.ip = ip
        self.helohost = helohost
        self.sender = sender
        self.recipients = recipients
        self.esmtp = esmtp
    }

    enum Stop: Error {
        case died
        case replyTooLong
        case unreadableMessage
        case partialFinalLine
    }

    public func run(over connection: some Connection, message: some MessageSource) -> DeliveryReport {
        var channel = Channel(connection: connection)
        var recipientReports: [Report] = []
        var afterFinalDot = false
        defer { connection.close() }

        func quit(_ report: Report) -> DeliveryReport {
            channel.finishPipeline()
            try? connection.write(Command.quit)
            return DeliveryReport(recipientReports: recipientReports, messageReport: report)
        }

        do {
            let greeting = try channel.read()
            guard greeting.code.isGoodGreeting else { return quit(RemoteReport.greetingFailed(ip: ip, reply: greeting)) }

            var extensions = Extensions()
            if esmtp {
                try channel.send(Command.ehlo(helohost))
                let ehlo = try channel.read()
                if ehlo.code.isGoodHello {
                    extensions = Extensions(ehloReply: ehlo)
                } else if ehlo.code.refusesEHLO {
                    try channel.send(Command.helo(helohost))
                    let hello = try channel.read()
                    guard hello.code.isGoodHello else { return quit(RemoteReport.nameRejected(ip: ip, reply: hello)) }
                } else {
                    return quit(RemoteReport.nameRejected(ip: ip, reply: ehlo))
                }
            } else {
                try channel.send(Command.helo(helohost))
                let hello = try channel.read()
                guard hello.code.isGoodHello else { return quit(RemoteReport.nameRejected(ip: ip, reply: hello)) }
            }

            let sendable = recipients.filter { $0.problem == nil }.map(\.address)
            let international = MailboxText.isInternational(sender) || sendable.contains(where: MailboxText.isInternational)
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
            channel.queue([Command.mailFrom(sender, parameters: parameters, utf8: utf8)]
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
                case .permanent: recipientReports.append(RemoteReport.recipient(.recipientRejected, ip: ip, reply: rcpt))
                case .temporary: recipientReports.append(RemoteReport.recipient(.recipientDeferred, ip: ip, reply: rcpt))
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

            try sendMessage(message, over: connection)
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
            }
            return DeliveryReport(recipientReports: recipientReports, messageReport: failure.report)
        }
    }

    /// Streams the message through the encoder; the last piece and the final
    /// dot go out in one write. Memory stays at about two chunks.
    private func sendMessage(_ message: some MessageSource, over connection: some Connection) throws(Stop) {
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
                do { try connection.write(output) } catch { throw .died }
                output.removeAll(keepingCapacity: true)
            }
        }
        guard encoder.endsWithCompleteLine else { throw .partialFinalLine }
        output.append(contentsOf: Command.endOfData)
        do { try connection.write(output) } catch { throw .died }
    }
}

extension ReplyCode {
    /// A reply to EHLO after which HELO is worth a try: 5xx, or 4xx but 421
    /// (421 means the server is closing the connection).
    var refusesEHLO: Bool { value >= 400 && value != 421 }
}
