// The composer as the endpoint uses it: which fields it writes and in what
// order, the MIME structure for each combination of parts, the envelope
// (From or sender; To + Cc + Bcc once each, or recipients), Message-IDs,
// the size limit, and the refusals of missing or unusable fields.

import Testing

@testable import MailComposer

@Suite struct ComposerTests {
    static let composer = Composer(messageIDDomain: "mail.example.org")!
    static let date = MessageDate(secondsSinceEpoch: 1_739_451_785, utcOffsetSeconds: 3600)

    func compose(
        _ composition: Composition, seed: UInt64 = 1, max: Int = .max
    ) throws(CompositionError)
        -> ComposedMessage
    {
        var random = SeededGenerator(seed: seed)
        let message = try Self.composer.compose(composition, date: Self.date, maxMessageBytes: max, using: &random)
        WellFormed.check(message.bytes)
        return message
    }

    func code(_ composition: Composition, max: Int = .max) -> CompositionError.Code? {
        do {
            _ = try compose(composition, max: max)
            return nil
        } catch {
            return error.code
        }
    }

    static func simple(text: String? = "Hi\n", html: String? = nil, attachments: [AttachmentField] = []) -> Composition
    {
        Composition(
            from: .text("Shop <shop@example.org>"), to: [.text("bob@example.com")], subject: "Hi", text: text,
            html: html, attachments: attachments)
    }

    /// The Content-Type of every part, in order, without parameters.
    func types(_ message: ComposedMessage) -> [String] {
        WellFormed.lines(of: message.bytes).map { String(decoding: $0, as: UTF8.self) }
            .filter { $0.hasPrefix("Content-Type: ") }
            .map { String($0.dropFirst(14).prefix { $0 != ";" }) }
    }

    @Test func fieldsInOrder() throws {
        var composition = Self.simple()
        composition.cc = [.text("carol@example.net")]
        composition.replyTo = [.text("help@example.org")]
        composition.headers = [HeaderField(name: "X-One", value: "1"), HeaderField(name: "x-two", value: "2")]
        let message = try compose(composition)
        #expect(
            WellFormed.fields(of: message.bytes).map(\.name) == [
                "Date", "From", "To", "Cc", "Reply-To", "Subject", "Message-ID", "X-One", "x-two", "MIME-Version",
                "Content-Type", "Content-Transfer-Encoding",
            ])
        let text = String(decoding: message.bytes, as: UTF8.self)
        #expect(text.hasPrefix("Date: Thu, 13 Feb 2025 14:03:05 +0100\r\nFrom: Shop <shop@example.org>\r\n"))
        #expect(text.hasSuffix("\r\n\r\nHi\r\n"))
    }

    @Test func structureForEachCombinationOfParts() throws {
        let pdf = AttachmentField(filename: "a.pdf", contentType: "application/pdf", content: [1])
        let logo = AttachmentField(filename: "logo.png", contentType: "image/png", content: [2], contentID: "logo")
        let cases: [(Composition, [String])] = [
            (Self.simple(), ["text/plain"]),
            (Self.simple(text: nil, html: "<p>Hi</p>"), ["text/html"]),
            (Self.simple(html: "<p>Hi</p>"), ["multipart/alternative", "text/plain", "text/html"]),
            (Self.simple(attachments: [pdf]), ["multipart/mixed", "text/plain", "application/pdf"]),
            (
                Self.simple(text: nil, html: "<img src=cid:logo>", attachments: [logo]),
                ["multipart/related", "text/html", "image/png"]
            ),
            (
                Self.simple(html: "<img src=cid:logo>", attachments: [pdf, logo]),
                [
                    "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html",
                    "image/png", "application/pdf",
                ]
            ),
            (Self.simple(attachments: [logo]), ["multipart/mixed", "text/plain", "image/png"]),
        ]
        for (composition, expected) in cases {
            #expect(types(try compose(composition)) == expected)
        }
    }

    @Test func relatedNamesItsRootTypeAndInlinePartsAreInline() throws {
        let logo = AttachmentField(filename: "logo.png", contentType: "image/png", content: [2], contentID: "logo")
        let text = String(decoding: try compose(Self.simple(html: "x", attachments: [logo])).bytes, as: UTF8.self)
        #expect(text.contains("Content-Type: multipart/related; type=\"text/html\";"))
        #expect(text.contains("Content-Disposition: inline; filename=\"logo.png\"\r\n"))
        #expect(text.contains("Content-ID: <logo>\r\n"))
    }

    @Test func attachmentMediaTypes() throws {
        func header(_ type: String?) throws(CompositionError) -> String? {
            let message = try compose(
                Self.simple(attachments: [AttachmentField(filename: "f", contentType: type, content: [0])]))
            return WellFormed.allFields(of: message.bytes).filter { $0.name == "Content-Type" }.last?.value
        }
        #expect(try header(nil) == " application/octet-stream; name=\"f\"")
        #expect(
            try header("Text/CSV ;charset=UTF-8; header=present")
                == " text/csv; charset=UTF-8; header=present; name=\"f\"")
        #expect(try header("text/plain; charset=\"a b\"") == " text/plain; charset=\"a b\"; name=\"f\"")
        for bad in [
            "pdf", "application/", "/pdf", "application/pdf; name=x", "application/pdf; x", "application/pdf; a=b; a=c",
            "multipart/mixed", "message/rfc822", "text/plain; charset=\"open", "application/pdf;; a=b=c",
            "text/plain; title*=utf-8''x", "app lication/pdf",
        ] {
            #expect(
                code(Self.simple(attachments: [AttachmentField(filename: "f", contentType: bad, content: [])]))
                    == .invalidField, "\(bad)")
        }
    }

    @Test func contentIDsAreCheckedAndUnique() {
        func with(_ ids: [String]) -> CompositionError.Code? {
            code(
                Self.simple(
                    html: "x",
                    attachments: ids.map {
                        AttachmentField(filename: "f", contentType: "image/png", content: [], contentID: $0)
                    }))
        }
        #expect(with(["logo", "part1.abc@example.org", "a!#$%&'*+-/=?^_`{|}~"]) == nil)
        #expect(with(["logo", "logo"]) == .invalidField)
        for bad in ["", "a b", "<logo>", "a\"b", "a,b", "a;b", "a:b", "é", String(repeating: "a", count: 251)] {
            #expect(with([bad]) == .invalidField, "\(bad)")
        }
    }

    @Test func filenamesMustBeGiven() {
        #expect(
            code(Self.simple(attachments: [AttachmentField(filename: "", contentType: nil, content: [])]))
                == .invalidField)
    }

    @Test func envelopeFromFieldsEachRecipientOnce() throws {
        let composition = Composition(
            from: .text("Shop <Shop@Example.org>"),
            to: [.text("Bob <bob@example.com>"), .text("\"john doe\"@example.com")],
            cc: [.text("bob@EXAMPLE.com"), .text("Bob@example.com")],
            bcc: [.text("audit@example.org"), .text("jöhn@example.com")],
            text: "x")
        let message = try compose(composition)
        #expect(message.sender == Array("Shop@Example.org".utf8))
        #expect(
            message.recipients.map { String(decoding: $0, as: UTF8.self) } == [
                "bob@example.com", "john doe@example.com", "Bob@example.com", "audit@example.org", "jöhn@example.com",
            ])
    }

    @Test func manyRecipientsAreEachSentOnce() throws {
        var composition = Self.simple()
        composition.to = (0..<500).map { .text("user\($0 % 250)@Example.org") }
        composition.bcc = [.text("user3@EXAMPLE.ORG"), .text("new@example.org")]
        let message = try compose(composition)
        #expect(message.recipients.count == 251 && message.recipients.last == Array("new@example.org".utf8))
        #expect(message.recipients.first == Array("user0@Example.org".utf8))
    }

    @Test func envelopeOverrides() throws {
        var composition = Self.simple()
        composition.sender = ""
        composition.recipients = ["x@example.net", "y@example.net"]
        let message = try compose(composition)
        #expect(
            message.sender == [] && message.recipients == [Array("x@example.net".utf8), Array("y@example.net".utf8)])
        composition.recipients = []
        #expect(code(composition) == .noRecipients)
    }

    @Test func requiredFields() {
        #expect(code(Self.simple(text: nil, html: nil)) == .missingField)
        var composition = Self.simple()
        composition.to = []
        #expect(code(composition) == .noRecipients)
        composition.bcc = [.text("hidden@example.net")]
        #expect(code(composition) == nil)
        composition.from = .text("")
        #expect(code(composition) == .invalidAddress)
    }

    @Test func domainsMustBeASCII() throws {
        var composition = Self.simple()
        composition.to = [.text("bob@bücher.example")]
        do {
            _ = try compose(composition)
            Issue.record("a U-label domain was accepted")
        } catch {
            #expect(
                error
                    == CompositionError(
                        .invalidAddress, "to 1 has a domain that is not ASCII; write it in its xn-- form"))
        }
        composition.to = [.text("bob@xn--bcher-kva.example")]
        #expect(code(composition) == nil)
    }

    @Test func utf8LocalPartsAreWrittenAsRFC6532Has() throws {
        var composition = Self.simple()
        composition.to = [.text("Jöhn <jöhn@example.com>")]
        let message = try compose(composition)
        #expect(
            WellFormed.fields(of: message.bytes).first { $0.name == "To" }?.value
                == " =?UTF-8?B?SsO2aG4=?= <jöhn@example.com>")
        #expect(message.recipients == [Array("jöhn@example.com".utf8)] && message.headersNeedSMTPUTF8)
        #expect(try !compose(Self.simple()).headersNeedSMTPUTF8)
        composition.to = [.text("bob@example.com")]
        composition.bcc = [.text("jöhn@example.com")]  // in the envelope only
        #expect(try !compose(composition).headersNeedSMTPUTF8)
    }

    @Test func messageIDsAreRandomAndUseTheDomain() throws {
        let first = try compose(Self.simple(), seed: 1)
        let again = try compose(Self.simple(), seed: 1)
        let other = try compose(Self.simple(), seed: 2)
        #expect(first.bytes == again.bytes && first.messageID == again.messageID)
        #expect(first.messageID != other.messageID)
        let parts = first.messageID.split(separator: "@")
        #expect(parts.count == 2 && parts[1] == "mail.example.org" && parts[0].count == 25)
        #expect(parts[0].allSatisfy { ("a"..."z").contains($0) || ("2"..."7").contains($0) })
        #expect(String(decoding: first.bytes, as: UTF8.self).contains("\r\nMessage-ID: <\(first.messageID)>\r\n"))
    }

    @Test func messageIDDomainMustBeAHostName() {
        #expect(Composer(messageIDDomain: "") == nil)
        #expect(Composer(messageIDDomain: "a b") == nil)
        #expect(Composer(messageIDDomain: "x>\r\nBcc: y") == nil)
        #expect(Composer(messageIDDomain: "[192.0.2.1]") != nil)
    }

    @Test func theLimitCountsTheBuiltMessage() throws {
        let attachment = AttachmentField(filename: "a.bin", contentType: nil, content: Array(repeating: 7, count: 3000))
        let size = try compose(Self.simple(attachments: [attachment])).bytes.count
        #expect(try compose(Self.simple(attachments: [attachment]), max: size).bytes.count == size)
        #expect(code(Self.simple(attachments: [attachment]), max: size - 1) == .messageTooLarge)
        // Refused from the attachments' sizes alone, before anything is encoded.
        #expect(code(Self.simple(attachments: [attachment]), max: 3999) == .messageTooLarge)
        let long = String(repeating: "é", count: 1000)
        #expect(code(Self.simple(text: long), max: 3000) == .messageTooLarge)
        #expect(code(Self.simple(text: long), max: 7000) == nil)
    }

    @Test func sameInputSameBytes() throws {
        let composition = Composition(
            from: .text("a@example.org"), to: [.text("b@example.org")], subject: "s", text: "t", html: "h",
            attachments: [AttachmentField(filename: "f", contentType: nil, content: [1, 2, 3], contentID: "c")])
        #expect(try compose(composition, seed: 9).bytes == compose(composition, seed: 9).bytes)
    }
}
