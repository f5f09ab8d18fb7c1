// A server reply code and the one place that decides what a code means at
// each step of the conversation, and which report letter that meaning gives.
// The code is read as qmail reads it: the first three bytes of the first
// line, each taken as (byte - '0') even when it is not a digit, in wrapping
// unsigned arithmetic, so garbage reads as a large (permanent) code.

struct ReplyCode: Sendable, Equatable, Hashable {
    let value: UInt64

    init(value: UInt64) { self.value = value }

    /// Reads the code from the first bytes of a reply line. A byte the line
    /// does not have counts as NUL, which makes the code huge: permanent.
    init(firstLine line: some Collection<UInt8>) {
        var code: UInt64 = 0
        var iterator = line.makeIterator()
        for _ in 0..<3 {
            let byte = UInt64(iterator.next() ?? 0)
            code = code &* 10 &+ (byte &- 48)
        }
        self.value = code
    }

    /// What this code means in answer to `step`:
    ///
    /// | step | accepted | temporary | permanent |
    /// | --- | --- | --- | --- |
    /// | greeting | 220 | anything else | |
    /// | hello (HELO; EHLO after STARTTLS) | 250 | anything else | |
    /// | firstEHLO | 250 | 421, and codes below 400 | 400 and up but 421: worth a HELO |
    /// | startTLS | 220 | anything else (refused) | |
    /// | authChallenge | 334 | | anything else (refused) |
    /// | authResult | 2xx | | anything else (refused) |
    /// | reset, mail, recipient, data, finalDot | below 400 (250 to DATA is a go-ahead) | 4xx | 500 and up |
    func verdict(at step: SMTPStep) -> ReplyVerdict {
        switch step {
        case .greeting, .startTLS: return value == 220 ? .accepted : .temporary
        case .hello: return value == 250 ? .accepted : .temporary
        case .firstEHLO:
            if value == 250 { return .accepted }
            return value >= 400 && value != 421 ? .permanent : .temporary
        case .authChallenge: return value == 334 ? .accepted : .permanent
        case .authResult: return value >= 200 && value < 300 ? .accepted : .permanent
        case .reset, .mail, .recipient, .data, .finalDot:
            if value >= 500 { return .permanent }
            if value >= 400 { return .temporary }
            return .accepted
        }
    }
}

/// The commands (and the greeting) a reply can answer.
enum SMTPStep: Sendable, Equatable, CaseIterable {
    case greeting
    /// The first EHLO of a connection: a refusal means "try HELO".
    case firstEHLO
    /// HELO, and EHLO again after STARTTLS.
    case hello
    case startTLS
    /// AUTH and each piece of the login but the last: the server asks for more.
    case authChallenge
    /// The last piece of a login.
    case authResult
    /// RSET before the next message on a reused connection.
    case reset
    case mail
    case recipient
    case data
    case finalDot
}

/// What a reply means for the delivery.
enum ReplyVerdict: Sendable, Equatable {
    case accepted
    case temporary
    case permanent

    /// The message report's letter: K, Z or D.
    var messageLetter: ReportLetter {
        switch self {
        case .accepted: return .messageAccepted
        case .temporary: return .messageDeferred
        case .permanent: return .messageFailed
        }
    }

    /// A recipient report's letter: r, s or h.
    var recipientLetter: ReportLetter {
        switch self {
        case .accepted: return .recipientAccepted
        case .temporary: return .recipientDeferred
        case .permanent: return .recipientRejected
        }
    }
}
