// The outcome of a delivery as qmail-remote reports it: recipient reports in
// argument order, then exactly one message report. Outcomes are data; the
// qmail byte form (letter, text, NUL) is `qmailBytes`. What the gateway and a
// queue also want to know (TLS, reuse, a possible duplicate, DKIM signatures)
// rides along outside those bytes.

public enum ReportLetter: UInt8, Sendable, Equatable {
    case recipientAccepted = 0x72  // r
    case recipientRejected = 0x68  // h
    case recipientDeferred = 0x73  // s
    case messageAccepted = 0x4B  // K
    case messageDeferred = 0x5A  // Z
    case messageFailed = 0x44  // D

    public var character: Character { Character(Unicode.Scalar(rawValue)) }
}

public struct Report: Sendable, Equatable {
    public let letter: ReportLetter
    /// The human-readable text, without the letter and without the NUL.
    public let text: [UInt8]

    public init(_ letter: ReportLetter, _ text: [UInt8]) {
        self.letter = letter
        self.text = text
    }

    public init(_ letter: ReportLetter, _ text: String) {
        self.init(letter, Array(text.utf8))
    }
}

public struct DeliveryReport: Sendable, Equatable {
    /// One per recipient reached, in argument order; fewer on failure.
    public let recipientReports: [Report]
    public let messageReport: Report
    /// The TLS the conversation ended under, if any (not part of the qmail bytes).
    public var tls: TLSSummary?
    /// The final dot was written and no reply to it was read: the message may have been
    /// delivered, and a retry may duplicate it ("Possible duplicate!").
    public var possibleDuplicate = false
    /// The conversation ran on a connection reused from the cache.
    public var reused = false
    /// The DKIM signatures put in front of the message (control/dkimdomains).
    public var signatures: [DKIMSignatureSummary] = []
    /// One line for stderr saying what is wrong with the installation when
    /// that is why the mail waits (a signing key); never part of the bytes.
    public var diagnostic: String?

    public init(recipientReports: [Report], messageReport: Report) {
        precondition(
            messageReport.letter == .messageAccepted || messageReport.letter == .messageDeferred
                || messageReport.letter == .messageFailed, "message report must be K, Z or D")
        precondition(
            recipientReports.allSatisfy {
                $0.letter == .recipientAccepted || $0.letter == .recipientRejected || $0.letter == .recipientDeferred
            }, "recipient reports must be r, h or s")
        self.recipientReports = recipientReports
        self.messageReport = messageReport
    }

    public init(failure: Report) {
        self.init(recipientReports: [], messageReport: failure)
    }

    /// What qmail-remote prints on standard output.
    public var qmailBytes: [UInt8] {
        var out: [UInt8] = []
        for report in recipientReports + [messageReport] {
            out.append(report.letter.rawValue)
            out.append(contentsOf: report.text)
            out.append(0)
        }
        return out
    }
}
