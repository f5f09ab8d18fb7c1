// Reports that quote the server: "<ip> does not like recipient.", "accepted
// message." and friends, each followed by "Remote host said: " and the reply
// text with NUL bytes shown as '?'.

public enum RemoteReport {
    public static func recipient(_ letter: ReportLetter, ip: IPAddress, reply: Reply) -> Report {
        Report(letter, Array("\(ip) does not like recipient.\n".utf8) + said(reply))
    }

    public static func greetingFailed(ip: IPAddress, reply: Reply) -> Report {
        Report(.messageDeferred, Array("Connected to \(ip) but greeting failed.\n".utf8) + said(reply))
    }

    public static func nameRejected(ip: IPAddress, reply: Reply) -> Report {
        Report(.messageDeferred, Array("Connected to \(ip) but my name was rejected.\n".utf8) + said(reply))
    }

    public static func senderRejected(_ letter: ReportLetter, ip: IPAddress, reply: Reply) -> Report {
        Report(letter, Array("Connected to \(ip) but sender was rejected.\n".utf8) + said(reply))
    }

    public static func givingUp(ip: IPAddress) -> Report {
        Report(.messageFailed, "Giving up on \(ip).\n")
    }

    public static func dataFailed(_ letter: ReportLetter, ip: IPAddress, reply: Reply) -> Report {
        Report(letter, Array("\(ip) failed on DATA command.\n".utf8) + said(reply))
    }

    public static func messageFailed(_ letter: ReportLetter, ip: IPAddress, reply: Reply) -> Report {
        Report(letter, Array("\(ip) failed after I sent the message.\n".utf8) + said(reply))
    }

    public static func startTLSRefused(ip: IPAddress, reply: Reply) -> Report {
        Report(
            .messageDeferred,
            Array("Connected to \(ip) but STARTTLS was refused, and TLS is required.\n".utf8) + said(reply))
    }

    /// A refused login names the mechanism; never the credentials.
    public static func loginRefused(ip: IPAddress, mechanism: String, reply: Reply) -> Report {
        Report(
            .messageDeferred, Array("Connected to \(ip) but the login (\(mechanism)) was refused.\n".utf8) + said(reply)
        )
    }

    public static func accepted(ip: IPAddress, reply: Reply) -> Report {
        Report(.messageAccepted, Array("\(ip) accepted message.\n".utf8) + said(reply))
    }

    /// "Remote host said: " and the reply, NULs as '?'; nothing for no text.
    static func said(_ reply: Reply) -> [UInt8] {
        if reply.text.isEmpty { return [] }
        return Array("Remote host said: ".utf8) + reply.text.map { $0 == 0 ? UInt8(ascii: "?") : $0 }
    }
}
