// Contents the composer reads in pieces (as the gateway's spool files are
// read) give exactly the message that the same contents in memory give,
// whatever the pieces and wherever a line, a "From " or a CRLF falls
// against the reader's window; a message written into a sink in pieces is
// the message; and a content that cannot be read is refused, never half-sent.

import Testing

@testable import MailComposer

/// Bytes served a few at a time (at most `pieceLimit` a read), failing from `failAt` on.
struct PiecewiseSource: ContentSource {
    let bytes: [UInt8]
    var pieceLimit = 7
    var failAt: Int? = nil

    var count: Int { bytes.count }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int? {
        if let failAt, offset + min(buffer.count, pieceLimit) > failAt { return nil }
        let length = max(0, min(buffer.count, pieceLimit, bytes.count - offset))
        for index in 0..<length { buffer[index] = bytes[offset + index] }
        return length
    }
}

/// Bytes that can be read `reads` times, then no more (a spool file going bad).
final class FailingSource: ContentSource, @unchecked Sendable {
    // @unchecked: one test thread reads it.
    let bytes: [UInt8]
    private var readsLeft: Int

    init(_ bytes: [UInt8], reads: Int) {
        self.bytes = bytes
        readsLeft = reads
    }

    var count: Int { bytes.count }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int? {
        if readsLeft == 0 { return nil }
        readsLeft -= 1
        let length = max(0, min(buffer.count, bytes.count - offset))
        for index in 0..<length { buffer[index] = bytes[offset + index] }
        return length
    }
}

/// Keeps what it is given, and how many pieces it came in.
final class CollectingSink: MessageSink {
    var bytes: [UInt8] = []
    var pieces = 0

    func write(_ piece: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: piece)
        pieces += 1
    }
}

@Suite struct PiecewiseContentTests {
    static let composer = Composer(messageIDDomain: "mail.example.org")!
    static let date = MessageDate(secondsSinceEpoch: 1_739_451_785)

    func compose(_ composition: Composition) throws -> ComposedMessage {
        var random = SeededGenerator(seed: 5)
        return try Self.composer.compose(composition, date: Self.date, using: &random)
    }

    /// The composition with every text and attachment moved to a piecewise source.
    func piecewise(_ composition: Composition, pieceLimit: Int = 7) -> Composition {
        var copy = composition
        func source(_ content: PartContent?) -> PartContent? {
            content.map { PartContent(source: PiecewiseSource(bytes: $0.allBytes()!, pieceLimit: pieceLimit)) }
        }
        copy.textBody = source(composition.textBody)
        copy.htmlBody = source(composition.htmlBody)
        for index in copy.attachments.indices {
            copy.attachments[index].body = source(copy.attachments[index].body)!
        }
        return copy
    }

    /// Texts whose lines, "From " and CRLFs fall on and around the reader's 64 KiB window edges.
    static func texts() -> [String] {
        let window = ContentReader.windowSize
        var texts = [
            "", "Hi", "Hi\n", "a\rb\r\nc\nd\n\re", "From the start\n.\n", "café 😀\n",
            String(repeating: "x", count: 5000), String(repeating: "word ", count: 30_000),
        ]
        for shift in -6...6 {
            let pad = String(repeating: "y", count: 60) + "\n"
            var text = String(repeating: pad, count: (window + shift) / pad.utf8.count)
            text += String(repeating: "z", count: (window + shift) % pad.utf8.count)
            texts.append(text + "\r\nFrom here\r\n--=_x\n")
            texts.append(text + "From " + String(repeating: "é", count: 80))
        }
        var random = SeededGenerator(seed: 11)
        let alphabet = Array("ab \t\r\n.F-=é😀".unicodeScalars)
        for _ in 0..<4 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<(3 * window / 2) { scalars.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            texts.append(String(scalars))
        }
        return texts
    }

    @Test func textsReadInPiecesEncodeAsInMemory() {
        for (index, text) in Self.texts().enumerated() {
            for endsMessage in [false, true] {
                let inMemory = TextBody(text, endsMessage: endsMessage)
                let content = PartContent(source: PiecewiseSource(bytes: Array(text.utf8), pieceLimit: 4093))
                guard let fromSource = TextBody(content, endsMessage: endsMessage) else {
                    Issue.record("text \(index) unreadable")
                    continue
                }
                var expected: [UInt8] = []
                inMemory.write(into: &expected)
                var found: [UInt8] = []
                #expect(fromSource.write(into: &found))
                #expect(fromSource.encoding == inMemory.encoding, "text \(index)")
                #expect(found == expected, "text \(index)")
                #expect(fromSource.encodedCount() == expected.count, "text \(index)")
            }
        }
    }

    @Test func messagesFromPiecesAreTheMessagesFromMemory() throws {
        let large = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let compositions = [
            Composition(
                from: .text("a@example.org"), to: [.text("b@example.org")], subject: "s",
                text: Self.texts()[9], html: "<p>" + Self.texts()[10]),
            Composition(
                from: .text("a@example.org"), to: [.text("b@example.org")], text: "t\n",
                attachments: [
                    AttachmentField(filename: "big.bin", contentType: nil, content: large),
                    AttachmentField(filename: "none.bin", contentType: nil, content: []),
                    AttachmentField(filename: "57.bin", contentType: nil, content: Array(large[0..<(57 * 1024)])),
                ]),
            Composition(
                from: .text("a@example.org"), to: [.text("b@example.org")], text: "Only text, no final break"),
        ]
        for composition in compositions {
            let expected = try compose(composition).bytes
            for pieceLimit in [1, 4093, 1 << 20] {
                let message = try compose(piecewise(composition, pieceLimit: pieceLimit))
                #expect(message.size == expected.count)
                #expect(message.bytes == expected)
                let sink = CollectingSink()
                #expect(message.write(into: sink))
                #expect(sink.bytes == expected)
            }
            WellFormed.check(expected)
        }
    }

    @Test func aLargeMessageReachesTheSinkInPiecesNotWhole() throws {
        let content = [UInt8](repeating: 0xA5, count: 3 << 20)
        let message = try compose(
            Composition(
                from: .text("a@example.org"), to: [.text("b@example.org")],
                text: String(repeating: "line\n", count: 100_000),
                attachments: [AttachmentField(filename: "a", contentType: nil, content: content)]))
        let sink = CollectingSink()
        #expect(message.write(into: sink))
        #expect(sink.bytes.count == message.size && sink.pieces > 50)
    }

    @Test func anUnreadableTextIsRefusedAndAnUnreadableAttachmentIsNotWritten() throws {
        let text = Array(String(repeating: "line\n", count: 1000).utf8)
        var composition = Composition(from: .text("a@example.org"), to: [.text("b@example.org")])
        composition.textBody = PartContent(source: PiecewiseSource(bytes: text, failAt: 3000))
        #expect(throws: CompositionError(.unreadableContent, "the text could not be read back from where it was kept"))
        {
            try compose(composition)
        }

        // Read well enough to choose its encoding, then not again while it is laid out.
        composition.textBody = PartContent(
            source: FailingSource(Array(("é" + String(repeating: "x", count: 100)).utf8), reads: 1))
        #expect(throws: CompositionError(.unreadableContent, "the text could not be read back from where it was kept"))
        {
            try compose(composition)
        }

        composition.text = "fine\n"
        composition.attachments = [
            AttachmentField(
                filename: "a", contentType: nil, body: PartContent(source: PiecewiseSource(bytes: text, failAt: 3000)))
        ]
        let message = try compose(composition)
        #expect(!message.write(into: CollectingSink()))
    }
}
