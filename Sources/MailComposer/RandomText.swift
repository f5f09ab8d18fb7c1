// Unguessable text from the caller's random number generator, in lower-case
// base32 (letters and 2-7: safe in a msg-id and in a boundary). One token
// a message (125 bits, two draws) makes its Message-ID and its boundaries;
// tests pass a seeded generator.

enum RandomText {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let tokenLength = 25

    /// `tokenLength` characters, five random bits each.
    static func token(using random: inout some RandomNumberGenerator) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(tokenLength)
        var bits: UInt64 = 0
        var available = 0
        for _ in 0..<tokenLength {
            if available < 5 {
                // The leftover bits go below the next draw's.
                let next = random.next()
                let value = bits | next << UInt64(available)
                out.append(alphabet[Int(value & 31)])
                bits = next >> UInt64(5 - available)
                available += 64 - 5
                continue
            }
            out.append(alphabet[Int(bits & 31)])
            bits >>= 5
            available -= 5
        }
        return out
    }

    /// A multipart boundary that no part can contain: "=_" cannot occur in
    /// quoted-printable or base64, 7bit text never starts a line with "--=_"
    /// (TextBody), and each boundary of a message ends in its own number, so
    /// none is another's prefix. Being guessed would not matter.
    static func boundary(token: [UInt8], number: Int) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "="), UInt8(ascii: "_")]
        out.reserveCapacity(token.count + 6)
        out.append(contentsOf: token)
        out.append(UInt8(ascii: "_"))
        out.append(contentsOf: String(number).utf8)
        return out
    }
}
