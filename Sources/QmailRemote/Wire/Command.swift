// The SMTP commands qmail-remote sends, rendered to bytes with CRLF. Callers
// have already refused CR, LF and NUL in what goes into them (MailboxText,
// Configuration); this file only renders.

public enum Command {
    public static func helo(_ host: [UInt8]) -> [UInt8] { line("HELO ", host) }
    public static func mailFrom(_ sender: [UInt8]) -> [UInt8] { line("MAIL FROM:<", MailboxText.render(sender), ">") }
    public static func rcptTo(_ recipient: [UInt8]) -> [UInt8] { line("RCPT TO:<", MailboxText.render(recipient), ">") }
    public static let data: [UInt8] = Array("DATA\r\n".utf8)
    public static let quit: [UInt8] = Array("QUIT\r\n".utf8)
    public static let endOfData: [UInt8] = Array(".\r\n".utf8)

    private static func line(_ verb: String, _ argument: [UInt8], _ tail: String = "") -> [UInt8] {
        var out = Array(verb.utf8)
        out.append(contentsOf: argument)
        out.append(contentsOf: tail.utf8)
        out.append(13); out.append(10)
        return out
    }
}
