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

    /// Each byte's six bits, or 0xFF for a byte that is not in the alphabet ('=' included).
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, symbol) in alphabet.enumerated() { table[Int(symbol)] = UInt8(value) }
        return table
    }()

    public static func decode(bytes input: [UInt8]) -> [UInt8]? {
        let count = input.count
        guard count % 4 == 0 else { return nil }
        if count == 0 { return [] }
        // Padding only in the last quad's last two places.
        let padding = input[count - 1] != UInt8(ascii: "=") ? 0 : input[count - 2] != UInt8(ascii: "=") ? 1 : 2
        let length = count / 4 * 3 - padding
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            input.withUnsafeBufferPointer { source in
                values.withUnsafeBufferPointer { table in
                    func quad(_ index: Int, _ third: UInt8, _ fourth: UInt8) -> UInt32? {
                        let a = table[Int(source[index])]
                        let b = table[Int(source[index + 1])]
                        guard (a | b | third | fourth) & 0x80 == 0 else { return nil }
                        return UInt32(a) << 18 | UInt32(b) << 12 | UInt32(third) << 6 | UInt32(fourth)
                    }
                    var index = 0
                    var at = 0
                    while index < count - 4 {
                        guard
                            let value = quad(
                                index, table[Int(source[index + 2])], table[Int(source[index + 3])])
                        else {
                            valid = false
                            return
                        }
                        buffer[at] = UInt8(truncatingIfNeeded: value >> 16)
                        buffer[at + 1] = UInt8(truncatingIfNeeded: value >> 8)
                        buffer[at + 2] = UInt8(truncatingIfNeeded: value)
                        at += 3
                        index += 4
                    }
                    let third = padding == 2 ? 0 : table[Int(source[index + 2])]
                    let fourth = padding >= 1 ? 0 : table[Int(source[index + 3])]
                    // No bits may be left over in front of the padding.
                    guard let value = quad(index, third, fourth),
                        padding != 2 || value & 0xffff == 0, padding != 1 || value & 0xff == 0
                    else {
                        valid = false
                        return
                    }
                    for offset in 0..<(3 - padding) {
                        buffer[at + offset] = UInt8(truncatingIfNeeded: value >> (16 - 8 * UInt32(offset)))
                    }
                }
            }
            // Bytes are trivial: an unfinished buffer is dropped as empty.
            initialized = valid ? length : 0
        }
        return valid ? out : nil
    }
}
