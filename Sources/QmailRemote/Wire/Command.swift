// The SMTP commands qmail-remote sends, rendered to bytes with CRLF. Callers
// have already refused CR, LF and NUL in what goes into them (MailboxText,
// Configuration); this file only renders.

enum Command {
    static func helo(_ host: [UInt8]) -> [UInt8] { line("HELO ", host) }
    static func ehlo(_ host: [UInt8]) -> [UInt8] { line("EHLO ", host) }
    /// MAIL FROM with ESMTP parameters ("SIZE=123", "BODY=8BITMIME", "SMTPUTF8").
    static func mailFrom(_ sender: [UInt8], parameters: [String] = [], utf8: Bool = false) -> [UInt8] {
        // A loop, not joined(): that one is generic code the runtime resolves
        // on first use, a tenth of the command's start-up.
        var tail = ">"
        for parameter in parameters { tail += " " + parameter }
        return line("MAIL FROM:<", MailboxText.render(sender, utf8: utf8), tail)
    }
    static func rcptTo(_ recipient: [UInt8], utf8: Bool = false) -> [UInt8] {
        line("RCPT TO:<", MailboxText.render(recipient, utf8: utf8), ">")
    }
    static let startTLS: [UInt8] = Array("STARTTLS\r\n".utf8)
    static let reset: [UInt8] = Array("RSET\r\n".utf8)
    static let data: [UInt8] = Array("DATA\r\n".utf8)
    static let quit: [UInt8] = Array("QUIT\r\n".utf8)
    static let endOfData: [UInt8] = Array(".\r\n".utf8)

    /// "AUTH CRAM-MD5", or with an initial response "AUTH PLAIN <base64>".
    static func auth(_ mechanism: String, initialResponse: [UInt8]? = nil) -> [UInt8] {
        line("AUTH ", Array(mechanism.utf8) + (initialResponse.map { [32] + $0 } ?? []))
    }

    /// One line of a login exchange: the base64 text alone.
    static func loginResponse(_ encoded: [UInt8]) -> [UInt8] { encoded + [13, 10] }

    private static func line(_ verb: String, _ argument: [UInt8], _ tail: String = "") -> [UInt8] {
        var out = Array(verb.utf8)
        out.append(contentsOf: argument)
        out.append(contentsOf: tail.utf8)
        out.append(13); out.append(10)
        return out
    }
}
