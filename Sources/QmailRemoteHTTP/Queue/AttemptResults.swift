// What one attempt's DeliveryReport means for the queue, as a pure value:
// each claimed recipient delivered, failed or deferred (as the gateway's
// answer reads reports: `r` takes the message's outcome, `h` fails, `s`
// defers, a recipient never reached takes the message's), qmail-send's
// queue-lifetime rule, the job's next attempt and the attempt's outcome.

import QmailRemote

struct AttemptResults {
    enum RecipientState: Int64 {
        case pending = 0, deferred = 1, delivered = 2, failed = 3
    }

    struct Recipient {
        let position: Int
        let state: RecipientState
        /// The report kept for the recipient's status.
        let report: ReportEntry
        /// The final dot was written and the answer lost: a retry may duplicate.
        let possibleDuplicate: Bool
    }

    let recipients: [Recipient]
    /// The attempt's report sequence, exactly as the core gave it.
    let reports: [ReportEntry]
    let outcome: AttemptOutcome
    let jobDone: Bool
    /// When the deferred recipients are tried again; nil when none is.
    let nextAttemptAt: Int64?

    init(job: ClaimedJob, report: DeliveryReport, schedule: RetrySchedule) {
        let message = report.messageReport
        let givesUp = schedule.givesUp(queuedAt: job.queuedAt, attemptStart: job.startedAt)
        recipients = job.recipients.enumerated().map { index, recipient in
            let own = index < report.recipientReports.count ? report.recipientReports[index] : nil
            let deciding = own.map { $0.letter == .recipientAccepted ? message : $0 } ?? message
            var state: RecipientState
            switch deciding.letter {
            case .messageAccepted, .recipientAccepted: state = .delivered
            case .messageFailed, .recipientRejected: state = .failed
            case .messageDeferred, .recipientDeferred: state = .deferred
            }
            var kept = ReportEntry(letter: (own ?? message).letter.character, text: (own ?? message).text)
            if state == .deferred && givesUp {
                // qmail-send turns the deferral into a failure, its text followed by this.
                state = .failed
                kept = ReportEntry(letter: "D", text: deciding.text + Array(RetrySchedule.tooLongText.utf8))
            }
            let duplicate = deciding.letter == .messageDeferred && report.possibleDuplicate
            return Recipient(position: recipient.position, state: state, report: kept, possibleDuplicate: duplicate)
        }
        reports = (report.recipientReports + [message]).map { ReportEntry(letter: $0.letter.character, text: $0.text) }
        let states = Set(recipients.map(\.state))
        if states == [.delivered] {
            outcome = .delivered
        } else if states == [.failed] {
            outcome = .failed
        } else if states == [.deferred] {
            outcome = .deferred
        } else {
            outcome = .mixed
        }
        jobDone = !states.contains(.deferred)
        nextAttemptAt = jobDone ? nil : schedule.nextAttempt(queuedAt: job.queuedAt, attemptStart: job.startedAt)
    }
}
