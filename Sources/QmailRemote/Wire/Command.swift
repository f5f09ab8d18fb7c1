// The SMTP commands qmail-remote sends, rendered to bytes with CRLF. Callers
// have already refused CR, LF and NUL in what goes into them (MailboxText,
// Configuration); this file only renders.

public enum Command {
    public static func helo(_ host: [UInt8]) -> [UInt8] { line("HELO ", host) }
    public static func ehlo(_ host: [UInt8]) -> [UInt8] { line("EHLO ", host) }
    /// MAIL FROM with ESMTP parameters ("SIZE=123", "BODY=8BITMIME", "SMTPUTF8").
    public static func mailFrom(_ sender: [UInt8], parameters: [String] = [], utf8: Bool = false) -> [UInt8] {
        line("MAIL FROM:<", MailboxText.render(sender, utf8: utf8), ">" + parameters.map { " " + $0 }.joined())
    }
    public static func rcptTo(_ recipient: [UInt8], utf8: Bool = false) -> [UInt8] {
        line("RCPT TO:<", MailboxText.render(recipient, utf8: utf8), ">")
    }
    public static let startTLS: [UInt8] = Array("STARTTLS\r\n".utf8)
    public static let data: [UInt8] = Array("DATA\r\n".utf8)
    public static let quit: [UInt8] = Array("QUIT\r\n".utf8)
    public static let endOfData: [UInt8] = Array(".\r\n".utf8)

    /// A command without argument: "AUTH LOGIN".
    static func line(_ text: String) -> [UInt8] { Array(text.utf8) + [13, 10] }

    private static func line(_ verb: String, _ argument: [UInt8], _ tail: String = "") -> [UInt8] {
        var out = Array(verb.utf8)
        out.append(contentsOf: argument)
        out.append(contentsOf: tail.utf8)
        out.append(13); out.append(10)
        return out
    }
}
