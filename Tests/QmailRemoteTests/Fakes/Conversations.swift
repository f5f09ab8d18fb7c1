// The one place tests make conversations and their events: a conversation
// with the test envelope, replies from text, and actions from text.

import QmailSupport

@testable import QmailRemote

let testIP = IPAddress(192, 0, 2, 1)

/// The test envelope (sender a@b, recipients as given) to 192.0.2.1, saying "me.test".
func conversation(
    _ recipients: [String] = ["u@x"], sender: String = "a@b", esmtp: Bool = true, credentials: Credentials? = nil,
    opening: SMTPConversation.Opening = .fresh(TLSPlan(level: .none)), mayKeep: Bool = false
) -> SMTPConversation {
    SMTPConversation(
        ip: testIP, helohost: Array("me.test".utf8), sender: Array(sender.utf8),
        recipients: recipients.map { (Array($0.utf8), MailboxText.problem(in: Array($0.utf8))) }, esmtp: esmtp,
        credentials: credentials, opening: opening, mayKeep: mayKeep)
}

/// A reply as ReplyReader makes it: lines given without line ends.
func reply(_ lines: String...) -> SMTPConversation.Event {
    .reply(replyValue(lines))
}

func replyValue(_ lines: [String]) -> Reply {
    let text = Array(lines.map { $0 + "\n" }.joined().utf8)
    return Reply(code: ReplyCode(firstLine: Array(lines[0].utf8.prefix(3))), text: text)
}

/// An EHLO reply offering `keywords`.
func ehlo(_ keywords: String...) -> SMTPConversation.Event {
    .reply(
        replyValue(
            keywords.isEmpty
                ? ["250 mx.test"]
                : ["250-mx.test"] + keywords.dropLast().map { "250-" + $0 } + ["250 " + keywords.last!]))
}

func send(_ text: String) -> SMTPConversation.Action { .send(Array(text.utf8)) }

/// The message report of a finished action, and the disposal.
func ending(_ action: SMTPConversation.Action) -> (report: DeliveryReport, disposal: SMTPConversation.Disposal)? {
    guard case .finish(.report(let report, let disposal)) = action else { return nil }
    return (report, disposal)
}
