// The mail transaction: SIZE, BODY=8BITMIME and SMTPUTF8 as the server
// offers them, then RSET (on a reused connection), MAIL, a RCPT for each
// sendable recipient and DATA, one at a time or pipelined in windows, each
// reply judged in order; the message; the reply to the final dot. Reports are
// those of the lock-step conversation in every failure combination.

extension SMTPConversation {
    /// The commands of the transaction, what each one is, and how far
    /// sending and answering have got.
    struct Pipeline: Equatable {
        enum Kind: Equatable { case reset, mail, recipient, data }

        var commands: [(bytes: [UInt8], kind: Kind)] = []
        var sent = 0
        var answered = 0
        var window = 1

        /// The reply to RSET has not come yet (a failure then means stale).
        var awaitsReset: Bool { answered < commands.count && commands[answered].kind == .reset }
        var owesReplies: Bool { answered < sent }

        /// The next window of commands, marked as sent.
        mutating func nextWindow() -> [UInt8] {
            let end = min(commands.count, sent + window)
            defer { sent = end }
            return Array(commands[sent..<end].map(\.bytes).joined())
        }

        static func == (a: Pipeline, b: Pipeline) -> Bool {
            a.sent == b.sent && a.answered == b.answered && a.window == b.window
                && a.commands.map(\.bytes) == b.commands.map(\.bytes)
                && a.commands.map(\.kind) == b.commands.map(\.kind)
        }
    }

    private var sendable: [[UInt8]] { recipients.filter { $0.problem == nil }.map(\.address) }
    private var international: Bool {
        MailboxText.isInternational(sender) || sendable.contains(where: MailboxText.isInternational)
    }

    /// After the greeting, hello, TLS and login (or at once on a reused
    /// connection): look at the message when its facts matter, else go on.
    mutating func beginTransaction() -> Action {
        if esmtp && international && !extensions.has("SMTPUTF8") {
            return finish(LocalFailure.noSMTPUTF8(ip).report, .quit)
        }
        if esmtp && (extensions.has("SIZE") || extensions.has("8BITMIME")) {
            state = .examining
            return .examineMessage
        }
        return sendTransaction(facts: nil)
    }

    /// MAIL's parameters from what the server offers and what is known of
    /// the message; then the first window of commands.
    mutating func sendTransaction(facts: MessageFacts?) -> Action {
        var parameters: [String] = []
        if esmtp {
            if let facts, extensions.has("SIZE") {
                if let limit = extensions.sizeLimit, facts.size > limit {
                    return finish(LocalFailure.tooLargeForServer(ip, size: facts.size, limit: limit).report, .quit)
                }
                parameters.append("SIZE=\(facts.size)")
            }
            // RFC 6152 allows declaring 8BITMIME for any body: so unless the
            // message is known to be 7-bit (a pipe is not known at all).
            if extensions.has("8BITMIME") && facts?.eightBit != false { parameters.append("BODY=8BITMIME") }
            if international { parameters.append("SMTPUTF8") }
        }
        let utf8 = esmtp && international
        var commands: [(bytes: [UInt8], kind: Pipeline.Kind)] = reused ? [(Command.reset, .reset)] : []
        commands.append((Command.mailFrom(sender, parameters: parameters, utf8: utf8), .mail))
        commands += sendable.map { (Command.rcptTo($0, utf8: utf8), .recipient) }
        commands.append((Command.data, .data))
        pipeline = Pipeline(
            commands: commands, window: extensions.has("PIPELINING") ? Self.pipelineWindow : 1)
        return send(pipeline.nextWindow(), then: .transaction)
    }

    /// A reply to one of the transaction's commands.
    mutating func transaction(_ reply: Reply) -> Action {
        let kind = pipeline.commands[pipeline.answered].kind
        pipeline.answered += 1
        switch kind {
        case .reset:
            guard reply.code.verdict(at: .reset) == .accepted else { return end(.stale) }
        case .mail:
            let verdict = reply.code.verdict(at: .mail)
            guard verdict == .accepted else {
                return conclude(RemoteReport.senderRejected(verdict, ip: ip, reply: reply))
            }
            reportUnsendableRecipients()
        case .recipient:
            let verdict = reply.code.verdict(at: .recipient)
            recipientReports.append(RemoteReport.recipient(verdict, ip: ip, reply: reply))
            anyRecipientAccepted = anyRecipientAccepted || verdict == .accepted
            nextRecipient += 1
            reportUnsendableRecipients()
            if pipeline.commands[pipeline.answered].kind == .data && !anyRecipientAccepted {
                return conclude(LocalFailure.givingUp(ip).report)
            }
        case .data:
            let verdict = reply.code.verdict(at: .data)
            guard verdict == .accepted else { return conclude(RemoteReport.dataFailed(verdict, ip: ip, reply: reply)) }
            state = .message
            return .sendMessage
        }
        if pipeline.owesReplies { return .receive }
        return .send(pipeline.nextWindow())
    }

    /// The unsendable recipients before the next one that was sent get
    /// their `h` reports, in their places.
    private mutating func reportUnsendableRecipients() {
        while nextRecipient < recipients.count, let problem = recipients[nextRecipient].problem {
            recipientReports.append(LocalFailure.unsendableRecipient(problem).report)
            nextRecipient += 1
        }
    }

    /// The report is made before the data: read the replies still owed for
    /// pipelined commands, then QUIT.
    private mutating func conclude(_ report: Report) -> Action {
        guard pipeline.owesReplies else { return finish(report, .quit) }
        state = .draining(report)
        return .receive
    }

    /// A reply owed for a command sent before the report was made. A DATA
    /// among them that was answered with a go-ahead gets the end of data at
    /// once: an empty message the server refuses for want of recipients.
    mutating func drained(_ reply: Reply, report: Report) -> Action {
        let kind = pipeline.commands[pipeline.answered].kind
        pipeline.answered += 1
        if pipeline.owesReplies { return .receive }
        if kind == .data && reply.code.verdict(at: .data) == .accepted {
            return send(Command.endOfData, then: .endingEmptyData(report))
        }
        return finish(report, .quit)
    }

    /// What became of sending the message.
    mutating func messageEnded(_ event: Event) -> Action {
        switch event {
        case .messageSent:
            state = .finalDot
            return .receive
        case .connectionDied: return finish(LocalFailure.connectionDied(ip, possibleDuplicate: false).report, .close)
        case .messageUnreadable: return finish(LocalFailure.unreadableMessage.report, .close)
        case .partialFinalLine: return finish(LocalFailure.partialFinalLine.report, .close)
        // Closed without QUIT: in the data phase a QUIT would only be message text.
        case .stoppedBeforeFinalDot: return finish(LocalFailure.stoppedBeforeFinalDot.report, .close)
        default: preconditionFailure("\(event) while sending the message")
        }
    }

    mutating func finalDot(_ reply: Reply) -> Action {
        let verdict = reply.code.verdict(at: .finalDot)
        let report = RemoteReport.afterMessage(verdict, ip: ip, reply: reply)
        return finish(report, verdict == .accepted && mayKeep ? .keep : .quit)
    }
}
