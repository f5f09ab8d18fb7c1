// The DKIM-Signature field as written: the tags in their order, lines of at
// most 78 characters folded with CRLF and a tab, long h= and b= values
// folded inside, and the text hashed before signing ending with "b=".

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct SignatureFieldTests {
    let hash = [UInt8](repeating: 7, count: 32)

    func field(names: [String] = ["From", "To", "From"], domain: String = "example.com") -> SignatureField {
        SignatureField(
            domain: Array(domain.utf8), selector: Array("sel".utf8), algorithm: "rsa-sha256", time: 1_764_072_000,
            names: names.map { Array($0.utf8) }, bodyHash: hash)
    }

    @Test func theTagsInOrderBeforeTheSignature() {
        let text = String(decoding: field().text, as: UTF8.self)
        #expect(
            text
                == "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;\r\n"
                + "\tt=1764072000; h=From:To:From;\r\n\tbh=BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=; b=")
    }

    @Test func theSignatureFillsFoldedLines() {
        let signature = [UInt8](repeating: 0xAB, count: 256)
        let text = String(decoding: field().signed(signature), as: UTF8.self)
        #expect(text.hasSuffix("\r\n") && !text.dropLast(2).contains("\r\n\r\n"))
        let lines = text.dropLast(2).components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= SignatureField.lineWidth })
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("\t") })
        let b = text.components(separatedBy: "b=").last!.filter { !"\r\n\t".contains($0) }
        #expect(Base64.decode(b) == signature)
    }

    @Test func aLongHeaderListFoldsAfterColons() {
        let names = (1...30).map { "List-Field-\($0)" }
        let text = String(decoding: field(names: names).text, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= SignatureField.lineWidth })
        let h = text.components(separatedBy: "h=")[1].components(separatedBy: ";")[0]
        #expect(h.filter { !"\r\n\t".contains($0) } == names.joined(separator: ":"))
    }

    @Test func theHashedTextIsTheSentFieldWithoutTheSignature() {
        let unsigned = field()
        let sent = unsigned.signed([1, 2, 3])
        // What a verifier hashes: the received field with the b= value taken out.
        let received = String(decoding: sent, as: UTF8.self)
        let withoutValue = received.components(separatedBy: "b=").dropLast().joined(separator: "b=") + "b="
        #expect(RelaxedHeader.canonical(Array(withoutValue.utf8)) == RelaxedHeader.canonical(unsigned.text))
    }
}
