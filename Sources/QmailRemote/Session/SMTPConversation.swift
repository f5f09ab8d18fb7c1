// One message's SMTP conversation as a state machine without I/O: it is fed
// events (a reply, a write done, TLS up or failed, the message sent) and
// answers each with the one action to take next (send these bytes, read a
// reply, start TLS, look at the message, send it, finish). Every byte that
// goes on the wire and every report is decided here; SMTPSession runs it over
// a connection, unit tests run it event by event. The steps are split by
// concern: +Hello (greeting, EHLO/HELO, STARTTLS), +Login, +Transaction.

import QmailSupport

struct SMTPConversation {
    /// How the conversation begins.
    enum Opening: Equatable {
        /// A new connection: the greeting (after the handshake for SMTPS),
        /// EHLO or HELO, STARTTLS and AUTH as `plan` and the route say.
        case fresh(TLSPlan)
        /// A connection kept from an earlier message, idle after a 250 to its
        /// final dot: RSET first (with MAIL and the rest when pipelining);
        /// what the server offered and the TLS in place are known.
        case reused(Extensions, tls: TLSSummary?)
    }

    enum Event: Equatable {
        /// The bytes of the last `.send` were written whole.
        case written
        case reply(Reply)
        case tlsStarted(TLSSummary)
        case tlsFailed(TLSFailure)
        /// What could be learned of the message without consuming it (nil: nothing).
        case messageFacts(MessageFacts?)
        /// The message and the final dot were written whole.
        case messageSent
        /// The connection closed, failed or passed its deadline.
        case connectionDied
        /// A reply went past ReplyReader.replyByteLimit.
        case replyTooLong
        case messageUnreadable
        case partialFinalLine
        /// The request's `proceed` said no before more data or the final dot.
        case stoppedBeforeFinalDot
    }

    enum Action: Equatable {
        /// Write these bytes, then tell `.written` (or `.connectionDied`).
        case send([UInt8])
        /// Read one reply: `.reply`, `.connectionDied` or `.replyTooLong`.
        case receive
        /// Start TLS on the connection as the plan says: `.tlsStarted` or `.tlsFailed`.
        case startTLS
        /// Learn the message's size and 8-bit-ness if that can be done without
        /// consuming it: `.messageFacts`.
        case examineMessage
        /// Send the message, dot-stuffed, and the final dot: `.messageSent`,
        /// or what stopped it.
        case sendMessage
        case finish(Ending)
    }

    enum Ending: Equatable {
        /// The report, and what becomes of the connection.
        case report(DeliveryReport, Disposal)
        /// The handshake failed under TLS "may": connect again, without TLS.
        case retryInPlainText
        /// TLS that DANE or an MTA-STS policy in mode enforce requires could
        /// not be had here (STARTTLS not offered or refused, the handshake
        /// failed, the certificate failed), before anything of the message:
        /// like a server that could not be reached, the next one is tried
        /// (RFC 7672 2.2, RFC 8461 5); this report stands if none delivers.
        case tlsRefused(DeliveryReport, Disposal)
        /// A reused connection turned out dead or unwilling before anything of
        /// this message was sent: start again on a new connection.
        case stale
    }

    enum Disposal: Equatable {
        /// Write QUIT (not waiting for its reply), then close.
        case quit
        /// Close at once: the connection is in no state for QUIT.
        case close
        /// Idle after a 250 to the final dot: it may carry another message.
        case keep
    }

    /// What the conversation is waiting for.
    enum State: Equatable {
        case start
        case handshake(implicit: Bool)
        case greeting
        case firstEHLO
        case helo
        case startTLS
        case ehloAfterTLS
        case login(LoginStep)
        case examining
        /// Replies to the queued commands, in order (see `Pipeline`).
        case transaction
        case message
        case finalDot
        /// The report is made; replies still owed are read before QUIT.
        case draining(Report)
        /// While draining, DATA was accepted: its data was ended at once.
        case endingEmptyData(Report)
        case done
    }

    enum LoginStep: Equatable {
        case cramChallenge
        case loginUser
        case loginPassword
        case result(mechanism: String)
    }

    let ip: IPAddress
    let helohost: [UInt8]
    let sender: [UInt8]
    /// Each recipient with the reason it cannot be sent, if any: such a one
    /// gets its `h` report in its place and is never sent.
    let recipients: [(address: [UInt8], problem: MailboxText.Problem?)]
    /// EHLO and extensions (control/esmtp 1), or the classic conversation.
    let esmtp: Bool
    /// The route's login, if any (ESMTP only).
    let credentials: Credentials?
    let opening: Opening
    /// The TLS plan of a fresh connection (a reused one's is behind it: none).
    let plan: TLSPlan
    /// After a 250 to the final dot, end with `.keep` instead of QUIT.
    let mayKeep: Bool

    /// Commands written at once when pipelining, before their replies are read.
    static let pipelineWindow = 100

    var state = State.start
    /// What the server offered in its last EHLO (nothing after HELO).
    var extensions = Extensions()
    /// The TLS in place, if any.
    var tls: TLSSummary?
    var recipientReports: [Report] = []
    /// The recipient whose report comes next, in argument order.
    var nextRecipient = 0
    var anyRecipientAccepted = false
    var pipeline = Pipeline()
    /// Under MTA-STS testing, what enforce would have refused (for the report).
    var policyProblem: String?

    init(
        ip: IPAddress, helohost: [UInt8], sender: [UInt8],
        recipients: [(address: [UInt8], problem: MailboxText.Problem?)], esmtp: Bool,
        credentials: Credentials? = nil, opening: Opening, mayKeep: Bool = false
    ) {
        self.ip = ip
        self.helohost = helohost
        self.sender = sender
        self.recipients = recipients
        self.esmtp = esmtp
        self.credentials = credentials
        self.opening = opening
        self.mayKeep = mayKeep
        if case .reused(let offered, let tls) = opening {
            extensions = offered
            self.tls = tls
        }
        if case .fresh(let plan) = opening {
            self.plan = plan
            policyProblem = plan.testing?.problem
        } else {
            plan = TLSPlan(level: .none)
        }
    }

    var reused: Bool {
        if case .reused = opening { return true }
        return false
    }

    /// The first action.
    mutating func start() -> Action {
        precondition(state == .start, "a conversation starts once")
        switch opening {
        case .reused: return beginTransaction()
        case .fresh(let plan) where plan.implicit:
            state = .handshake(implicit: true)
            return .startTLS
        case .fresh:
            state = .greeting
            return .receive
        }
    }

    /// The next action after `event`.
    mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (.done, _), (.start, _):
            preconditionFailure("\(event) after the conversation ended or before it began")
        case (_, .written):
            return .receive
        case (.handshake(let implicit), .tlsStarted(let summary)): return tlsStarted(summary, implicit: implicit)
        case (.handshake(let implicit), .tlsFailed(let failure)): return tlsFailed(failure, implicit: implicit)
        case (.greeting, .reply(let reply)): return greeting(reply)
        case (.firstEHLO, .reply(let reply)): return firstEHLO(reply)
        case (.helo, .reply(let reply)): return helo(reply)
        case (.startTLS, .reply(let reply)): return startTLSReply(reply)
        case (.ehloAfterTLS, .reply(let reply)): return ehloAfterTLS(reply)
        case (.login(let step), .reply(let reply)): return login(step, reply)
        case (.examining, .messageFacts(let facts)): return sendTransaction(facts: facts)
        case (.transaction, .reply(let reply)): return transaction(reply)
        case (.message, _): return messageEnded(event)
        case (.finalDot, .reply(let reply)): return finalDot(reply)
        case (.draining(let report), .reply(let reply)): return drained(reply, report: report)
        case (.endingEmptyData(let report), .reply): return finish(report, .quit)
        case (_, .connectionDied), (_, .replyTooLong): return lost(event)
        default:
            preconditionFailure("\(event) while waiting in \(state)")
        }
    }

    /// The connection died or a reply was too long.
    private mutating func lost(_ event: Event) -> Action {
        let died = event == .connectionDied
        switch state {
        case .draining(let report), .endingEmptyData(let report):
            // The report is made; failures here change nothing.
            return finish(report, .quit)
        case .transaction where pipeline.awaitsReset:
            return end(.stale)
        case .finalDot:
            let failure: LocalFailure =
                died ? .connectionDied(ip, possibleDuplicate: true) : .replyTooLong(ip, possibleDuplicate: true)
            return finish(failure.report, .close, possibleDuplicate: true)
        default:
            let failure: LocalFailure =
                died ? .connectionDied(ip, possibleDuplicate: false) : .replyTooLong(ip, possibleDuplicate: false)
            return finish(failure.report, .close)
        }
    }

    /// Sends `bytes` and waits in `next` for the reply.
    mutating func send(_ bytes: [UInt8], then next: State) -> Action {
        state = next
        return .send(bytes)
    }

    /// Ends with `report` as the message report.
    mutating func finish(_ report: Report, _ disposal: Disposal, possibleDuplicate: Bool = false) -> Action {
        var report = report
        if let problem = policyProblem, let testing = plan.testing {
            // MTA-STS testing (RFC 8461 5): delivered as without a policy, and said.
            report = Report(
                report.letter,
                report.text
                    + Array(
                        "MTA-STS policy of \(LocalFailure.printable(testing.domain)) (testing) would have refused this: \(problem).\n"
                            .utf8))
        }
        var delivery = DeliveryReport(recipientReports: recipientReports, messageReport: report)
        delivery.tls = tls
        delivery.reused = reused
        delivery.possibleDuplicate = possibleDuplicate
        return end(.report(delivery, disposal))
    }

    mutating func end(_ ending: Ending) -> Action {
        state = .done
        return .finish(ending)
    }
}
