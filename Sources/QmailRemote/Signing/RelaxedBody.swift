// The "relaxed" canonical form of the body (RFC 6376 3.4.4), streamed:
// blanks at the end of a line dropped, runs of blanks inside a line as one
// space, empty lines at the end dropped (an empty body stays empty). Fed the
// body as the server stores it, every line ending CRLF; holds no more than a
// count of empty lines, whatever the message's size.

struct RelaxedBody {
    private var blank = false
    private var lineHasText = false
    /// Empty lines not written yet: they count only if text follows.
    private var emptyLines = 0

    /// Appends the canonical form of `bytes` (the next piece of the body) to `output`.
    mutating func take(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + bytes.count + 2)
        for byte in bytes {
            switch byte {
            // A CR here always starts a CRLF; the LF ends the line.
            case 13: continue
            case 10:
                if lineHasText {
                    output.append(13)
                    output.append(10)
                } else {
                    emptyLines += 1
                }
                blank = false
                lineHasText = false
            case 32, 9:
                blank = true
            default:
                if !lineHasText {
                    while emptyLines > 0 {
                        output.append(13)
                        output.append(10)
                        emptyLines -= 1
                    }
                }
                if blank { output.append(32) }
                blank = false
                lineHasText = true
                output.append(byte)
            }
        }
    }
}
