// SMTP transparency for the message body, streamed chunk by chunk: every
// line ending (LF, CRLF or a bare CR) becomes CRLF, and every line starting
// with '.' gets one more '.' — also after a bare CR, so "x\r.\n" can never end
// the data early (SMTP smuggling). It does not write the final ".\r\n".
// Without dot-stuffing it gives the message as the server stores it, which
// is what a DKIM signature covers.

struct MessageEncoder: Sendable {
    private let stuffingDots: Bool
    private var atLineStart = true
    private var lastWasCR = false
    private var sawBytes = false

    init(stuffingDots: Bool = true) { self.stuffingDots = stuffingDots }

    /// Appends the encoded form of `input` to `output`.
    mutating func encode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        if input.isEmpty { return }
        sawBytes = true
        output.reserveCapacity(output.count + input.count + input.count / 16 + 4)
        for byte in input {
            switch byte {
            case 10:
                if lastWasCR {
                    lastWasCR = false
                } else {
                    output.append(13); output.append(10)
                    atLineStart = true
                }
            case 13:
                output.append(13); output.append(10)
                atLineStart = true
                lastWasCR = true
            default:
                if atLineStart && byte == UInt8(ascii: ".") && stuffingDots { output.append(byte) }
                output.append(byte)
                atLineStart = false
                lastWasCR = false
            }
        }
    }

    mutating func encode(_ input: [UInt8], into output: inout [UInt8]) {
        input.withUnsafeBytes { encode($0, into: &output) }
    }

    /// True when the message so far ends with a line ending (or is empty):
    /// only then may the final dot follow.
    var endsWithCompleteLine: Bool { atLineStart }
}
