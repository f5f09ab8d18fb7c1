// Strict base64 (RFC 4648, standard alphabet): padding required to a multiple
// of four, no white space, no bits left over. Nil for anything else.

enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var quad: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                let value: UInt32
                switch byte {
                case 65...90: value = UInt32(byte - 65)
                case 97...122: value = UInt32(byte - 71)
                case 48...57: value = UInt32(byte + 4)
                case UInt8(ascii: "+"): value = 62
                case UInt8(ascii: "/"): value = 63
                case UInt8(ascii: "="):
                    // Padding only in the last quad's last two places.
                    guard index + 4 == input.count, offset >= 2 else { return nil }
                    padding += 1
                    value = 0
                default: return nil
                }
                if padding > 0 && byte != UInt8(ascii: "=") { return nil }
                quad = quad << 6 | value
            }
            let decoded = [UInt8(quad >> 16 & 0xff), UInt8(quad >> 8 & 0xff), UInt8(quad & 0xff)]
            if padding == 2 && quad & 0xffff != 0 { return nil }
            if padding == 1 && quad & 0xff != 0 { return nil }
            out.append(contentsOf: decoded[0..<(3 - padding)])
            index += 4
        }
        return out
    }
}
