// How an envelope address is written inside MAIL FROM:<...> and RCPT TO:<...>:
// the local part quoted when it is not a dot-atom (RFC 5321 4.1.2), the domain
// as given. Also the check that refuses addresses that cannot be sent safely
// or cannot fit a command line.

import QmailSupport

public enum MailboxText {
    /// Why an address cannot go on the wire.
    public enum Problem: Sendable, Equatable {
        /// CR, LF, NUL or another control byte.
        case controlCharacter
        /// A space, '<' or '>' in a part that is sent unquoted.
        case unquotableCharacter
        /// Too long for a command line: see `longestRendering`.
        case tooLong

        /// What is wrong, to follow "Sender address" or "recipient 2".
        public var phrase: String {
            switch self {
            case .controlCharacter: return "contains a line break, NUL or other control character"
            case .unquotableCharacter: return "has a space, < or > outside the quoted local part"
            case .tooLong: return "is too long for an SMTP command line"
            }
        }
    }

    /// The address as sent between the angle brackets. With `utf8` (the
    /// server took SMTPUTF8), UTF-8 in a local part is atext, as RFC 6531 has it.
    /// The longest address as sent (quoted) that still fits a command line
    /// of 512 octets with CRLF (RFC 5321 4.5.3.1.4) in the longer of the two
    /// commands: "MAIL FROM:<" address ">" with the most parameters we add
    /// (" SIZE=" and 19 digits, " BODY=8BITMIME", " SMTPUTF8") and CRLF.
    static let longestRendering = 512 - 11 - 1 - (25 + 14 + 9) - 2

    static func render(_ address: [UInt8], utf8: Bool = false) -> [UInt8] {
        guard let at = address.lastIndex(of: UInt8(ascii: "@")) else { return address }
        let local = address[..<at]
        if isDotAtom(local, utf8: utf8) { return address }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in local {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: address[at...])
        return out
    }

    /// nil when the address can be sent; CR/LF/NUL can never reach the wire.
    public static func problem(in address: [UInt8]) -> Problem? {
        if ASCII.containsControl(address) { return .controlCharacter }
        let unquoted = address.lastIndex(of: UInt8(ascii: "@")).map { address[($0 + 1)...] } ?? address[...]
        if unquoted.contains(where: { $0 == 32 || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }) {
            return .unquotableCharacter
        }
        // Quoting at most doubles the local part and adds two quotes.
        if address.count > longestRendering / 2 - 1 && render(address).count > longestRendering { return .tooLong }
        return nil
    }

    /// Whether the address has bytes above 127 (needs SMTPUTF8).
    static func isInternational(_ address: [UInt8]) -> Bool { address.contains { $0 > 127 } }

    static func isDotAtom(_ text: ArraySlice<UInt8>, utf8: Bool = false) -> Bool {
        if text.isEmpty || text.first == UInt8(ascii: ".") || text.last == UInt8(ascii: ".") { return false }
        var previousDot = false
        for byte in text {
            if byte == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
            } else {
                if !(isAtext(byte) || (utf8 && byte > 127)) { return false }
                previousDot = false
            }
        }
        return true
    }

    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-/=?^_`{|}~".utf8).contains(byte)
        }
    }
}
