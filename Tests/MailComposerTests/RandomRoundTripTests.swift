// Compositions made at random from a seed (so a failure names its seed and
// repeats): names, subjects, texts, file names and extra fields mixing
// ASCII, the characters that need quoting or escaping, scripts, emoji and
// combining marks; each must round-trip through both parsers exactly.

import Testing

@testable import MailComposer

@Suite struct RandomRoundTripTests {
    static let pools: [[Unicode.Scalar]] = [
        Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".unicodeScalars),
        Array("     ".unicodeScalars),
        Array("\"\\=?_,;:<>()[]@.'%*!#$&+-/^`{|}~".unicodeScalars),
        Array("éèêëàâäôöüçñßøåÆŒ".unicodeScalars),
        Array("абвгдеёжзийклмнопрстуфхцчшщъыьэюяЖЩЯ".unicodeScalars),
        Array("日本語漢字仮名のをはがでとにも中文字體한국어".unicodeScalars),
        Array("🎉📦🚀👍🏽👨‍👩‍👧😀🇯🇵".unicodeScalars),
        Array("\u{301}\u{308}שלוםمرحبا".unicodeScalars),
        ["\t"],  // white space only where a field allows it: subject and header values
    ]

    static func text(_ length: Int, using random: inout SeededGenerator, pools: [Int] = Array(0..<8)) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            let pool = Self.pools[pools.randomElement(using: &random)!]
            scalars.append(pool.randomElement(using: &random)!)
        }
        return String(scalars)
    }

    /// A display name that fits one encoded word (Python misreads longer ones; see RoundTripTests).
    static func name(using random: inout SeededGenerator) -> String? {
        if Int.random(in: 0..<4, using: &random) == 0 { return nil }
        var name = text(Int.random(in: 1...12, using: &random), using: &random)
        while name.utf8.count > 44 { name.removeLast() }
        return name
    }

    static func body(using random: inout SeededGenerator) -> String {
        let breaks = ["\n", "\r\n", "\r"]
        var lines: [String] = []
        for _ in 0..<Int.random(in: 0...8, using: &random) {
            switch Int.random(in: 0..<10, using: &random) {
            case 0: lines.append(".")
            case 1: lines.append("From " + text(10, using: &random, pools: [0, 1]))
            case 2: lines.append(text(Int.random(in: 70...300, using: &random), using: &random))
            case 3: lines.append("nul\u{0}and\u{7}bell ")
            default: lines.append(text(Int.random(in: 0...60, using: &random), using: &random))
            }
        }
        var body = ""
        for line in lines { body += line + breaks.randomElement(using: &random)! }
        if Bool.random(using: &random) { body += text(Int.random(in: 1...20, using: &random), using: &random) }
        return body
    }

    static func composition(seed: UInt64) -> Composition {
        var random = SeededGenerator(seed: seed)
        func local() -> String {
            text(Int.random(in: 1...12, using: &random), using: &random, pools: [0, 3, 4])
        }
        func mailbox() -> AddressField { .parts(name: name(using: &random), address: "\(local())@example.com") }
        let types = ["application/pdf", "image/png", "text/plain; charset=utf-8", "application/octet-stream", nil]
        let hasHTML = Bool.random(using: &random)
        let hasText = !hasHTML || Bool.random(using: &random)
        return Composition(
            from: mailbox(), to: (0..<Int.random(in: 1...3, using: &random)).map { _ in mailbox() },
            cc: (0..<Int.random(in: 0...2, using: &random)).map { _ in mailbox() },
            bcc: (0..<Int.random(in: 0...1, using: &random)).map { _ in mailbox() },
            replyTo: (0..<Int.random(in: 0...1, using: &random)).map { _ in mailbox() },
            subject: text(Int.random(in: 0...150, using: &random), using: &random, pools: Array(0..<9)),
            text: hasText ? body(using: &random) : nil, html: hasHTML ? body(using: &random) : nil,
            attachments: (0..<Int.random(in: 0...3, using: &random)).map { index in
                AttachmentField(
                    filename: text(Int.random(in: 0...60, using: &random), using: &random) + "f",
                    contentType: types.randomElement(using: &random)!,
                    content: (0..<Int.random(in: 0...3000, using: &random)).map { _ in
                        UInt8.random(in: 0...255, using: &random)
                    },
                    contentID: Bool.random(using: &random) ? "part\(index).\(seed)@example.org" : nil)
            },
            headers: (0..<Int.random(in: 0...2, using: &random)).map { index in
                HeaderField(
                    name: "X-Random-\(index)",
                    value: text(Int.random(in: 0...200, using: &random), using: &random, pools: Array(0..<9)))
            })
    }

    @Test(arguments: 1...40) func randomCompositionsRoundTrip(seed: Int) throws {
        let composition = Self.composition(seed: UInt64(seed))
        for parser in MIMEParser.allCases {
            try RoundTrip.check(composition, with: parser)
        }
        WellFormed.check(try RoundTrip.compose(composition).bytes)
    }
}
