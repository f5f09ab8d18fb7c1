// Reports that quote the server: "<ip> does not like recipient.", "accepted
// message." and friends, each followed by "Remote host said: " and the reply
// text with NUL bytes shown as '?'. The letter comes from the reply's verdict
// (ReplyCode decides it); reports made up without a reply are LocalFailure's.

import QmailSupport

enum RemoteReport {
    static func recipient(_ verdict: ReplyVerdict, ip: IPAddress, reply: Reply) -> Report {
        if verdict == .accepted { return Report(.recipientAccepted, []) }
        return Report(verdict.recipientLetter, Array("\(ip) does not like recipient.\n".utf8) + said(reply))
    }

    static func greetingFailed(ip: IPAddress, reply: Reply) -> Report {
        Report(.messageDeferred, Array("Connected to \(ip) but greeting failed.\n".utf8) + said(reply))
    }

    static func nameRejected(ip: IPAddress, reply: Reply) -> Report {
        Report(.messageDeferred, Array("Connected to \(ip) but my name was rejected.\n".utf8) + said(reply))
    }

    static func senderRejected(_ verdict: ReplyVerdict, ip: IPAddress, reply: Reply) -> Report {
        Report(verdict.messageLetter, Array("Connected to \(ip) but sender was rejected.\n".utf8) + said(reply))
    }

    static func dataFailed(_ verdict: ReplyVerdict, ip: IPAddress, reply: Reply) -> Report {
        Report(verdict.messageLetter, Array("\(ip) failed on DATA command.\n".utf8) + said(reply))
    }

    /// The reply to the final dot: accepted, or refused for good or for now.
    static func afterMessage(_ verdict: ReplyVerdict, ip: IPAddress, reply: Reply) -> Report {
        let text = verdict == .accepted ? "\(ip) accepted message.\n" : "\(ip) failed after I sent the message.\n"
        return Report(verdict.messageLetter, Array(text.utf8) + said(reply))
    }

    static func startTLSRefused(ip: IPAddress, reply: Reply) -> Report {
        Report(
            .messageDeferred,
            Array("Connected to \(ip) but STARTTLS was refused, and TLS is required.\n".utf8) + said(reply))
    }

    /// A refused login names the mechanism; never the credentials.
    static func loginRefused(ip: IPAddress, mechanism: String, reply: Reply) -> Report {
        Report(
            .messageDeferred, Array("Connected to \(ip) but the login (\(mechanism)) was refused.\n".utf8) + said(reply)
        )
    }

    /// "Remote host said: " and the reply, NULs as '?'; nothing for no text.
    static func said(_ reply: Reply) -> [UInt8] {
        if reply.text.isEmpty { return [] }
        return Array("Remote host said: ".utf8) + reply.text.map { $0 == 0 ? UInt8(ascii: "?") : $0 }
    }
}
