// One classic SMTP conversation on an open connection, qmail-remote's way:
// greeting, HELO, MAIL, RCPT for each recipient, DATA, the message, the dot,
// QUIT without waiting. Every path ends in a DeliveryReport; nothing throws out.

public struct SMTPSession {
    public let ip: IPAddress
    public let helohost: [UInt8]
    public let sender: [UInt8]
    /// Each recipient with the reason it cannot be sent, if any: such a one
    /// gets its `h` report in its place and is never sent.
    public let recipients: [(address: [UInt8], problem: MailboxText.Problem?)]

    /// The message is read and sent in pieces of this size.
    static let chunkSize = 65536

    public init(ip: IPAddress, helohost: [UInt8], sender: [UInt8],
                recipients: [(address: [UInt8], problem: MailboxText.Problem?)]) {
        self.ip = ip
        self.helohost = helohost
        self.sender = sender
        self.recipients = recipients
    }

    private enum Stop: Error {
        case died
        case replyTooLong
        case unreadableMessage
        case partialFinalLine
    }

    public func run(over connection: some Connection, message: some MessageSource) -> DeliveryReport {
        var reader = ReplyReader()
        var recipientReports: [Report] = []
        var afterFinalDot = false
        defer { connection.close() }

        func readReply() throws(Stop) -> Reply {
            do { return try reader.read(from: connection) } catch {
                throw error == .tooLong ? .replyTooLong : .died
            }
        }
        func send(_ bytes: [UInt8]) throws(Stop) {
            do { try connection.write(bytes) } catch { throw .died }
        }
        func quit(_ report: Report) -> DeliveryReport {
            try? connection.write(Command.quit)
            return DeliveryReport(recipientReports: recipientReports, messageReport: report)
        }

        do {
            let greeting = try readReply()
            guard greeting.code.isGoodGreeting else { return quit(RemoteReport.greetingFailed(ip: ip, reply: greeting)) }

            try send(Command.helo(helohost))
            let hello = try readReply()
            guard hello.code.isGoodHello else { return quit(RemoteReport.nameRejected(ip: ip, reply: hello)) }

            try send(Command.mailFrom(sender))
            let mail = try readReply()
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
                try send(Command.rcptTo(recipient.address))
                let rcpt = try readReply()
                switch rcpt.code.verdict {
                case .permanent: recipientReports.append(RemoteReport.recipient(.recipientRejected, ip: ip, reply: rcpt))
                case .temporary: recipientReports.append(RemoteReport.recipient(.recipientDeferred, ip: ip, reply: rcpt))
                case .accepted:
                    recipientReports.append(Report(.recipientAccepted, []))
                    anyAccepted = true
                }
            }
            guard anyAccepted else { return quit(RemoteReport.givingUp(ip: ip)) }

            try send(Command.data)
            let data = try readReply()
            switch data.code.verdict {
            case .permanent: return quit(RemoteReport.dataFailed(.messageFailed, ip: ip, reply: data))
            case .temporary: return quit(RemoteReport.dataFailed(.messageDeferred, ip: ip, reply: data))
            case .accepted: break
            }

            try sendMessage(message, over: connection)
            afterFinalDot = true
            let final = try readReply()
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
