// Base64 (RFC 4648, standard alphabet): encoding for SMTP AUTH, and strict
// decoding (padding required to a multiple of four, no white space, no bits
// left over; nil for anything else) for AUTH challenges and the gateway.

public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = UInt32(chunk[chunk.startIndex]) << 16
            if chunk.count > 1 { value |= UInt32(chunk[chunk.startIndex + 1]) << 8 }
            if chunk.count > 2 { value |= UInt32(chunk[chunk.startIndex + 2]) }
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(chunk.count > 1 ? alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "="))
            out.append(chunk.count > 2 ? alphabet[Int(value & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return out
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(bytes: Array(text.utf8)) }

    public static func decode(bytes input: [UInt8]) -> [UInt8]? {
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
