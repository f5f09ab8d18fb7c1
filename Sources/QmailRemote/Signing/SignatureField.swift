// One DKIM-Signature field (RFC 6376 3.5) as it goes in front of the
// message: v=1, a=, c=relaxed/relaxed, d=, s=, t=, h=, bh=, b=, folded into
// lines of at most 78 characters. Made in two steps: the text up to "b=",
// which the header hash covers (the b= value counts as empty), then the same
// text with the signature. Not here: choosing the fields (SignedHeaders) or
// signing (DigestSigner).

import QmailSupport

struct SignatureField {
    static let lineWidth = 78

    /// The field so far, folded, without a final CRLF.
    private(set) var text: [UInt8] = Array("DKIM-Signature:".utf8)
    private var column = 15

    /// Everything but the signature: the field ends with "b=".
    init(domain: [UInt8], selector: [UInt8], algorithm: String, time: Int, names: [[UInt8]], bodyHash: [UInt8]) {
        append("v=1;")
        append("a=" + algorithm + ";")
        append("c=relaxed/relaxed;")
        append(Array("d=".utf8) + domain + [UInt8(ascii: ";")])
        append(Array("s=".utf8) + selector + [UInt8(ascii: ";")])
        append("t=" + String(time) + ";")
        for (index, name) in names.enumerated() {
            let separator = UInt8(ascii: index == names.count - 1 ? ";" : ":")
            // FWS may stand around h='s colons: a fold after one is allowed.
            append((index == 0 ? Array("h=".utf8) : []) + name + [separator], spaced: index == 0)
        }
        append(Array("bh=".utf8) + Base64.encode(bodyHash) + [UInt8(ascii: ";")])
        append("b=")
    }

    /// The whole field with `signature` as b=, ending CRLF.
    func signed(_ signature: [UInt8]) -> [UInt8] {
        var field = self
        // FWS may stand anywhere in a base64 value: fill each line.
        var rest = Base64.encode(signature)[...]
        while !rest.isEmpty {
            if field.column >= Self.lineWidth { field.fold() }
            let piece = rest.prefix(Self.lineWidth - field.column)
            field.text += piece
            field.column += piece.count
            rest = rest.dropFirst(piece.count)
        }
        return field.text + [13, 10]
    }

    private mutating func append(_ word: String, spaced: Bool = true) {
        append(Array(word.utf8), spaced: spaced)
    }

    private mutating func append(_ word: [UInt8], spaced: Bool = true) {
        if column + (spaced ? 1 : 0) + word.count > Self.lineWidth {
            fold()
        } else if spaced {
            text.append(32)
            column += 1
        }
        text += word
        column += word.count
    }

    private mutating func fold() {
        text += [13, 10, 9]
        column = 1
    }
}
