// MessageEncoder: CRLF for every line ending, dot-stuffing at every line
// start (also after a bare CR), complete-line tracking, chunk independence.

import Testing
@testable import QmailRemote

@Suite struct MessageEncoderTests {
    func encode(_ text: [UInt8], pieces: Int = 1) -> (bytes: [UInt8], complete: Bool) {
        var encoder = MessageEncoder()
        var output: [UInt8] = []
        let size = max(1, (text.count + pieces - 1) / pieces)
        var start = 0
        while start < text.count {
            encoder.encode(Array(text[start..<min(start + size, text.count)]), into: &output)
            start += size
        }
        return (output, encoder.endsWithCompleteLine)
    }

    @Test(arguments: [
        ("a\nb\n", "a\r\nb\r\n"), ("a\r\nb\r\n", "a\r\nb\r\n"), ("a\rb\r", "a\r\nb\r\n"),
        (".x\n", "..x\r\n"), ("x\r.\n", "x\r\n..\r\n"), ("\r\n.\r\n", "\r\n..\r\n"), ("", ""),
    ])
    func lineEndingsAndDots(input: String, expected: String) {
        for pieces in [1, 2, 3, 100] {
            #expect(encode(Array(input.utf8), pieces: pieces).bytes == Array(expected.utf8))
        }
    }

    @Test func crThenLfAcrossChunksIsOneLineEnding() {
        var encoder = MessageEncoder()
        var output: [UInt8] = []
        encoder.encode(Array("a\r".utf8), into: &output)
        encoder.encode(Array("\n.b\n".utf8), into: &output)
        #expect(output == Array("a\r\n..b\r\n".utf8))
    }

    @Test func partialFinalLineIsNotComplete() {
        #expect(!encode(Array("abc".utf8)).complete)
        #expect(encode(Array("abc\r".utf8)).complete)
        #expect(encode([]).complete)
    }

    @Test func otherBytesPassUnchanged() {
        let bytes: [UInt8] = [0, 9, 0xff, 0x80, 65, 10]
        #expect(encode(bytes).bytes == [0, 9, 0xff, 0x80, 65, 13, 10])
    }

    @Test func noInputCanProduceAnEarlyEndOfData() {
        // Every short sequence of CR, LF, '.' and 'x': the only CRLF.CRLF is ours.
        let alphabet: [UInt8] = [13, 10, 46, 120]
        var inputs: [[UInt8]] = [[]]
        for _ in 0..<6 { inputs = inputs.flatMap { prefix in alphabet.map { prefix + [$0] } } }
        for input in inputs {
            let (bytes, complete) = encode(input + [10])
            #expect(complete)
            let wire = [13, 10] + bytes + Array(".\r\n".utf8)
            var ends = 0
            for index in 0..<(wire.count - 4) where Array(wire[index..<(index + 5)]) == [13, 10, 46, 13, 10] {
                ends += 1
            }
            #expect(ends == 1, "input \(input)")
        }
    }
}
