// The "relaxed" canonical form of one header field (RFC 6376 3.4.2): the
// name in lower case, unfolded, runs of blanks as one space, none at the end
// of the value nor around the colon. Signer and verifier hash this form, so
// a relay refolding the field does not break the signature. Not for the body
// (RelaxedBody).

import QmailSupport

enum RelaxedHeader {
    /// `field` as it stands ("Name: value", folding CRLFs included, no final
    /// CRLF), canonical and without CRLF.
    static func canonical(_ field: some Collection<UInt8>) -> [UInt8] {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return [] }
        var output = ASCII.lowercased(field[..<colon])
        while let last = output.last, last == 32 || last == 9 { output.removeLast() }
        output.append(UInt8(ascii: ":"))
        var blank = false
        var started = false
        for byte in field[field.index(after: colon)...] {
            switch byte {
            // Unfolding: every CRLF inside a field is followed by a blank.
            case 13, 10: continue
            case 32, 9: blank = true
            default:
                if blank && started { output.append(32) }
                blank = false
                started = true
                output.append(byte)
            }
        }
        return output
    }
}
