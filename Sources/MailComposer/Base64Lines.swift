// Base64 (RFC 2045 6.8) as MIME bodies carry it: lines of 76 characters
// joined by CRLF, no CRLF after the last (the boundary that follows brings
// it); and unwrapped, for B encoded words. Writes straight into the message.

enum Base64Lines {
    static let lineLength = 76
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The bytes `append` adds for `count` input bytes.
    static func encodedLength(_ count: Int) -> Int {
        let characters = (count + 2) / 3 * 4
        let lines = (characters + lineLength - 1) / lineLength
        return characters + 2 * max(0, lines - 1)
    }

    /// Input bytes that make whole lines: pieces of this size encode
    /// separately and join with CRLF exactly as if encoded at once.
    static let pieceSize = 57 * 1024

    /// Writes `input` encoded, wrapped at 76 columns, at `target`, which has
    /// room for `encodedLength(input.count)` bytes; returns that length.
    static func encode(_ input: UnsafeRawBufferPointer, into target: UnsafeMutablePointer<UInt8>) -> Int {
        let count = input.count
        guard count > 0 else { return 0 }
        let buffer = input.assumingMemoryBound(to: UInt8.self)
        return alphabet.withUnsafeBufferPointer { table in
            let source = buffer.baseAddress!
            let symbols = table.baseAddress!
            var at = target
            var index = 0
            // Whole lines first: 57 input bytes make 76 characters.
            while count - index > 57 {
                for _ in 0..<19 {
                    let value =
                        UInt32(source[index]) << 16 | UInt32(source[index + 1]) << 8 | UInt32(source[index + 2])
                    at[0] = symbols[Int(value >> 18)]
                    at[1] = symbols[Int(value >> 12 & 63)]
                    at[2] = symbols[Int(value >> 6 & 63)]
                    at[3] = symbols[Int(value & 63)]
                    at += 4
                    index += 3
                }
                at[0] = 13
                at[1] = 10
                at += 2
            }
            while index < count {
                let left = count - index
                var value = UInt32(source[index]) << 16
                if left > 1 { value |= UInt32(source[index + 1]) << 8 }
                if left > 2 { value |= UInt32(source[index + 2]) }
                at[0] = symbols[Int(value >> 18)]
                at[1] = symbols[Int(value >> 12 & 63)]
                at[2] = left > 1 ? symbols[Int(value >> 6 & 63)] : UInt8(ascii: "=")
                at[3] = left > 2 ? symbols[Int(value & 63)] : UInt8(ascii: "=")
                at += 4
                index += 3
            }
            return at - target
        }
    }

    /// Appends `input` encoded on one line.
    static func appendUnwrapped(_ input: ArraySlice<UInt8>, to out: inout [UInt8]) {
        var index = input.startIndex
        while index < input.endIndex {
            let left = input.endIndex - index
            var value = UInt32(input[index]) << 16
            if left > 1 { value |= UInt32(input[index + 1]) << 8 }
            if left > 2 { value |= UInt32(input[index + 2]) }
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(left > 1 ? alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "="))
            out.append(left > 2 ? alphabet[Int(value & 63)] : UInt8(ascii: "="))
            index += 3
        }
    }
}
