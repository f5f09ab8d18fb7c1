// The compose API's JSON body without a server: what decodes into which
// Composition, every refusal with its stable code (and 413 for size), the
// composer's and the envelope's refusals as the endpoint will answer them,
// and header injection through JSON escapes.

import MailComposer
import Testing

@testable import QmailRemoteHTTP

@Suite struct ComposePayloadTests {
    func decode(_ json: String, max: Int = 10_000) throws(APIError) -> ComposePayload {
        try ComposePayload.decode(Array(json.utf8), maxMessageBytes: max)
    }

    func refusal(_ json: String, max: Int = 10_000) -> APIError? {
        do {
            _ = try decode(json, max: max)
            return nil
        } catch {
            return error
        }
    }

    /// Decodes and composes as the endpoint will; the refusal, if any.
    func composed(_ json: String, max: Int = 10_000, maxRecipients: Int = 5) -> APIError? {
        do {
            var random = SystemRandomNumberGenerator()
            _ = try decode(json, max: max).compose(
                with: Composer(messageIDDomain: "mail.example.org")!, date: MessageDate(secondsSinceEpoch: 0),
                maxMessageBytes: max, maxRecipients: maxRecipients, using: &random)
            return nil
        } catch {
            return error
        }
    }

    @Test func theIssuesExample() throws {
        let payload = try decode(
            #"""
            {
              "from": "Shop <shop@example.org>",
              "to": ["Bob <bob@example.com>"], "cc": [], "bcc": ["audit@example.org"],
              "reply_to": "help@example.org",
              "subject": "Your order – №42",
              "text": "Thanks!\n", "html": "<p>Thanks! <img src=\"cid:logo\"></p>",
              "attachments": [
                {"filename": "invoice.pdf", "content_type": "application/pdf", "content_base64": "JVBERi0="},
                {"filename": "logo.png", "content_type": "image/png", "content_base64": "iVBORw==", "content_id": "logo"}
              ],
              "headers": {"List-Unsubscribe": "<https://example.org/u/1>"}
            }
            """#)
        #expect(
            payload.composition
                == Composition(
                    from: .text("Shop <shop@example.org>"), to: [.text("Bob <bob@example.com>")], cc: [],
                    bcc: [.text("audit@example.org")], replyTo: [.text("help@example.org")],
                    subject: "Your order – №42", text: "Thanks!\n", html: "<p>Thanks! <img src=\"cid:logo\"></p>",
                    attachments: [
                        AttachmentField(
                            filename: "invoice.pdf", contentType: "application/pdf", content: Array("%PDF-".utf8)),
                        AttachmentField(
                            filename: "logo.png", contentType: "image/png", content: [0x89, 0x50, 0x4E, 0x47],
                            contentID: "logo"),
                    ],
                    headers: [HeaderField(name: "List-Unsubscribe", value: "<https://example.org/u/1>")]))
        #expect(payload.host == nil)
    }

    @Test func addressFormsAndOverrides() throws {
        let payload = try decode(
            #"""
            {"from": {"name": "Shop", "address": "shop@example.org"}, "to": "bob@example.com",
             "cc": [{"address": "c@example.com"}, "Dee <d@example.com>"], "text": "x",
             "sender": "", "recipients": ["r@example.net"], "host": "mx.example.net"}
            """#)
        #expect(payload.composition.from == .parts(name: "Shop", address: "shop@example.org"))
        #expect(payload.composition.to == [.text("bob@example.com")])
        #expect(payload.composition.cc == [.parts(name: nil, address: "c@example.com"), .text("Dee <d@example.com>")])
        #expect(payload.composition.sender == "" && payload.composition.recipients == ["r@example.net"])
        #expect(payload.host == "mx.example.net")
    }

    @Test func refusalsWithStableCodes() {
        let cases: [(String, String)] = [
            ("{", "malformed_json"),
            ("[]", "malformed_json"),
            (#"{"from":"a@b.c","text":"x","bogus":1}"#, "unknown_field"),
            (#"{"to":["a@b.c"],"text":"x"}"#, "missing_field"),
            (#"{"from":null,"text":"x"}"#, "invalid_field"),
            (#"{"from":1,"text":"x"}"#, "invalid_field"),
            (#"{"from":{"name":"A"},"text":"x"}"#, "missing_field"),
            (#"{"from":{"address":"a@b.c","nick":"A"},"text":"x"}"#, "unknown_field"),
            (#"{"from":{"address":"a@b.c","name":null},"text":"x"}"#, "invalid_field"),
            (#"{"from":"a@b.c","to":[1],"text":"x"}"#, "invalid_field"),
            (#"{"from":"a@b.c","to":[["a@b.c"]],"text":"x"}"#, "invalid_field"),
            (#"{"from":"a@b.c","subject":2,"text":"x"}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":true}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":"x","headers":[]}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":"x","headers":{"X-A":1}}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":"x","recipients":"a@b.c"}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":"x","recipients":[null]}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":"x","attachments":{}}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":"x","attachments":["x"]}"#, "invalid_field"),
            (#"{"from":"a@b.c","text":"x","attachments":[{"content_base64":"eA=="}]}"#, "missing_field"),
            (#"{"from":"a@b.c","text":"x","attachments":[{"filename":"f"}]}"#, "missing_field"),
            (
                #"{"from":"a@b.c","text":"x","attachments":[{"filename":"f","content_base64":"eA==","size":1}]}"#,
                "unknown_field"
            ),
            (#"{"from":"a@b.c","text":"x","attachments":[{"filename":"f","content_base64":"eA"}]}"#, "invalid_base64"),
            (
                #"{"from":"a@b.c","text":"x","attachments":[{"filename":"f","content_base64":"eA==\n"}]}"#,
                "invalid_base64"
            ),
            (
                #"{"from":"a@b.c","text":"x","attachments":[{"filename":"f","content_base64":"eA==","content_id":7}]}"#,
                "invalid_field"
            ),
        ]
        for (json, expected) in cases {
            let error = refusal(json)
            #expect(error?.code == expected && error?.status == 400, "\(json)")
        }
    }

    @Test func tooLargeBeforeDecodingWhenTheSentPartsAlonePassTheLimit() {
        let base64 = String(repeating: "QUJD", count: 30)  // 120 characters, 90 bytes
        let json =
            #"{"from":"a@b.c","to":"d@e.f","text":"x","attachments":[{"filename":"f","content_base64":"\#(base64)"}]}"#
        #expect(refusal(json, max: 100)?.status == 413)
        #expect(refusal(json, max: 121) == nil)
        // The built message is larger still: refused by the composer, also with 413.
        let error = composed(json, max: 121)
        #expect(error?.status == 413 && error?.code == "message_too_large")
        #expect(composed(json, max: 2000) == nil)
    }

    @Test func composerAndEnvelopeRefusalsAsTheEndpointAnswersThem() {
        let cases: [(String, String)] = [
            (#"{"from":"a@b.c","text":"x"}"#, "no_recipients"),
            (#"{"from":"a@b.c","to":"d@e.f"}"#, "missing_field"),
            (#"{"from":"not an address","to":"d@e.f","text":"x"}"#, "invalid_address"),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","headers":{"Bcc":"x@y.z"}}"#, "invalid_header"),
            (
                #"{"from":"a@b.c","to":"d@e.f","text":"x","attachments":[{"filename":"f","content_base64":"","content_type":"multipart/mixed"}]}"#,
                "invalid_field"
            ),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","sender":"x\r\n@b.c"}"#, "invalid_sender"),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","recipients":["ok@b.c","x\u0000@b.c"]}"#, "invalid_recipient"),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","recipients":["nodomain"]}"#, "invalid_recipient"),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","recipients":[]}"#, "no_recipients"),
            (
                #"{"from":"a@b.c","to":["1@e.f","2@e.f","3@e.f"],"bcc":["4@e.f","5@e.f","6@e.f"],"text":"x"}"#,
                "too_many_recipients"
            ),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","host":"mx\r\n.example"}"#, "invalid_host"),
        ]
        for (json, expected) in cases {
            let error = composed(json)
            #expect(error?.code == expected && error?.status == 400, "\(json)")
        }
        #expect(
            composed(#"{"from":"a@b.c","to":["d@e.f","D@E.F"],"bcc":["d@e.F"],"text":"x","host":"[127.0.0.1]"}"#) == nil
        )
    }

    @Test(arguments: [#"\r\n"#, #"\n"#, #"\r"#, #"\u0000"#, #"\u000d\u000a"#, #"\u2028"#, #"\u0085"#])
    func headerInjectionThroughJSONEscapes(escape: String) {
        let attempts: [(String, String)] = [
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","subject":"Hi\#(escape)Bcc: v@x.y"}"#, "invalid_field"),
            (#"{"from":"Eve\#(escape)Bcc: v@x.y <a@b.c>","to":"d@e.f","text":"x"}"#, "invalid_address"),
            (#"{"from":{"name":"Eve\#(escape)","address":"a@b.c"},"to":"d@e.f","text":"x"}"#, "invalid_address"),
            (#"{"from":"a@b.c","to":"d@e.f\#(escape)","text":"x"}"#, "invalid_address"),
            (#"{"from":"a@b.c","to":"d@e.f","cc":["c@e.f\#(escape)Bcc: v@x.y"],"text":"x"}"#, "invalid_address"),
            (#"{"from":"a@b.c","to":"d@e.f","reply_to":"r@e.f\#(escape)","text":"x"}"#, "invalid_address"),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","headers":{"X-A\#(escape)Bcc":"v"}}"#, "invalid_header"),
            (#"{"from":"a@b.c","to":"d@e.f","text":"x","headers":{"X-A":"v\#(escape)Bcc: v@x.y"}}"#, "invalid_header"),
            (
                #"{"from":"a@b.c","to":"d@e.f","text":"x","attachments":[{"filename":"f\#(escape).pdf","content_base64":""}]}"#,
                "invalid_field"
            ),
            (
                #"{"from":"a@b.c","to":"d@e.f","text":"x","attachments":[{"filename":"f","content_type":"text/plain\#(escape)","content_base64":""}]}"#,
                "invalid_field"
            ),
            (
                #"{"from":"a@b.c","to":"d@e.f","html":"x","attachments":[{"filename":"f","content_id":"c\#(escape)","content_base64":""}]}"#,
                "invalid_field"
            ),
        ]
        for (json, expected) in attempts {
            let error = composed(json)
            #expect(error?.code == expected && error?.status == 400, "\(json)")
        }
    }
}
