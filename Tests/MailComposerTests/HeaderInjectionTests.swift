// Every field that becomes part of a header refuses CR, LF, NUL, other
// control characters and the Unicode line separators, whichever way it is
// given (the header-injection class of the nodemailer and MimeKit CVEs);
// text that only looks like markup (quotes, commas, encoded words) is
// written so that it reads back as the same text, never as more fields.

import Testing

@testable import MailComposer

@Suite struct HeaderInjectionTests {
    static let attacks = [
        "\r\nBcc: victim@example.net", "\nBcc: victim@example.net", "\rBcc: victim@example.net", "x\u{0}y",
        "a\r\n\r\n<html>body</html>", "\u{85}Bcc: victim@example.net", "x\u{2028}y", "x\u{2029}y", "x\u{1B}[31m",
        "x\u{7F}", "x\u{9B}y",
    ]

    static func base() -> Composition {
        Composition(from: .text("shop@example.org"), to: [.text("bob@example.com")], subject: "Hi", text: "Hi\n")
    }

    func refusal(_ composition: Composition) -> CompositionError? {
        var random = SeededGenerator(seed: 1)
        do {
            _ = try Composer(messageIDDomain: "example.org")!.compose(
                composition, date: MessageDate(secondsSinceEpoch: 0), using: &random)
            return nil
        } catch {
            return error
        }
    }

    /// Each way of putting `attack` into a header, with the code it must get.
    static func placements(_ attack: String) -> [(String, CompositionError.Code, Composition)] {
        func with(_ change: (inout Composition) -> Void) -> Composition {
            var composition = base()
            change(&composition)
            return composition
        }
        let file = { (name: String, type: String?, id: String?) in
            AttachmentField(filename: name, contentType: type, content: [1], contentID: id)
        }
        return [
            ("from text address", .invalidAddress, with { $0.from = .text("shop@example.org\(attack)") }),
            ("from text name", .invalidAddress, with { $0.from = .text("Shop\(attack) <shop@example.org>") }),
            (
                "from parts name", .invalidAddress,
                with { $0.from = .parts(name: "Shop\(attack)", address: "s@example.org") }
            ),
            (
                "from parts address", .invalidAddress,
                with { $0.from = .parts(name: "Shop", address: "s@example.org\(attack)") }
            ),
            (
                "to", .invalidAddress,
                with { $0.to = [.text("bob@example.com"), .text("Bob\(attack) <b@example.com>")] }
            ),
            ("cc", .invalidAddress, with { $0.cc = [.parts(name: "C\(attack)", address: "c@example.com")] }),
            ("bcc", .invalidAddress, with { $0.bcc = [.text("b@example.com\(attack)")] }),
            ("reply_to", .invalidAddress, with { $0.replyTo = [.text("help\(attack)@example.org")] }),
            ("subject", .invalidField, with { $0.subject = "Hello\(attack)" }),
            ("filename", .invalidField, with { $0.attachments = [file("a\(attack).pdf", nil, nil)] }),
            ("content_type", .invalidField, with { $0.attachments = [file("a.pdf", "application/pdf\(attack)", nil)] }),
            ("content_id", .invalidField, with { $0.attachments = [file("a.png", "image/png", "logo\(attack)")] }),
            ("header name", .invalidHeader, with { $0.headers = [HeaderField(name: "X-A\(attack)", value: "v")] }),
            ("header value", .invalidHeader, with { $0.headers = [HeaderField(name: "X-A", value: "v\(attack)")] }),
        ]
    }

    @Test(arguments: attacks) func everyHeaderFieldRefusesLineBreaksAndControls(attack: String) {
        for (place, code, composition) in Self.placements(attack) {
            let error = refusal(composition)
            #expect(error?.code == code, "\(place) with \(attack.debugDescription)")
        }
    }

    @Test func refusalsNameTheField() {
        let error = refusal(Self.placements("\r\n")[4].2)
        #expect(error == CompositionError(.invalidAddress, "to 2 contains a line break or NUL"))
        #expect(refusal(Self.placements("\r\n")[13].2)?.message == "header X-A contains a line break or NUL")
        #expect(
            refusal(Self.placements("\u{2028}")[8].2)?.message
                == "subject contains a Unicode line or paragraph separator")
    }

    @Test func aTabIsWhiteSpaceInTheSubjectAndHeaderValuesOnly() {
        var composition = Self.base()
        composition.subject = "a\tb"
        composition.headers = [HeaderField(name: "X-A", value: "a\tb")]
        #expect(refusal(composition) == nil)
        composition.from = .text("Sh\top <shop@example.org>")
        #expect(refusal(composition)?.code == .invalidAddress)
    }

    @Test func addressesThatWouldAddRecipientsAreRefused() {
        for address in [
            "a@example.com, evil@example.net", "a@example.com>, <evil@example.net", "<a@example.com>",
            "a@example.com; evil@example.net", "a b@example.com", "@example.com", "a@", "a@exa mple.com",
            "a@example..com", "a.@example.com", "\"unclosed@example.com", "a@[1.2.3.4", "a@example.com\"",
        ] {
            var composition = Self.base()
            composition.to = [.parts(name: nil, address: address)]
            #expect(refusal(composition)?.code == .invalidAddress, "\(address)")
        }
        var twoInOne = Self.base()
        twoInOne.to = [.text("Bob <bob@example.com>, Eve <eve@example.net>")]
        #expect(refusal(twoInOne)?.code == .invalidAddress)
    }

    @Test func headerNamesTheComposerWritesOrThatAreNotFieldNamesAreRefused() {
        for name in [
            "Bcc", "bcc", "From", "TO", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version",
            "Content-Type", "content-transfer-encoding", "Content-Disposition", "Return-Path", "", "X A", "X:A",
            "Ünïcode", "X\u{7F}",
        ] {
            var composition = Self.base()
            composition.headers = [HeaderField(name: name, value: "v")]
            #expect(refusal(composition)?.code == .invalidHeader, "\(name.debugDescription)")
        }
        var composition = Self.base()
        composition.headers = [
            HeaderField(name: "X-!#$%&'*+-.^_`|~", value: "v"), HeaderField(name: "Sender", value: "a@b.c"),
        ]
        #expect(refusal(composition) == nil)
    }

    @Test func bccNeverAppearsInTheMessage() throws {
        var composition = Self.base()
        composition.bcc = [.text("Secret Auditor <audit@example.org>")]
        var random = SeededGenerator(seed: 1)
        let message = try Composer(messageIDDomain: "example.org")!.compose(
            composition, date: MessageDate(secondsSinceEpoch: 0), using: &random)
        let text = String(decoding: message.bytes, as: UTF8.self)
        #expect(!text.lowercased().contains("bcc") && !text.contains("audit") && !text.contains("Secret"))
        #expect(
            message.recipients.map { String(decoding: $0, as: UTF8.self) } == ["bob@example.com", "audit@example.org"])
    }
}
