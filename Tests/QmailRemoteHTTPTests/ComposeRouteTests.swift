// POST /v1/messages through GatewayEndpoint in memory: the route's head
// refusals (method, media type, query, length, drain, rate), the body built
// into a Submission with its Message-ID, the token's sender policy applied
// to the envelope and to From:, large parts and messages spooled, and the
// answer of /v1/deliveries with "message_id" added.

import MailComposer
import QmailRemote
import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct ComposeRouteTests {
    func endpoint(
        tokens: String? = nil, maxMessageBytes: Int = 100_000, threshold: Int = 1 << 20,
        lifecycle: Lifecycle = Lifecycle(), budget: BodyMemory = BodyMemory(limit: 1 << 24)
    ) throws -> GatewayEndpoint {
        let entries = try tokens.map {
            try TokenFile.parse(Array($0.utf8).split(separator: 10).map(Array.init))
        }
        var settings = GatewaySettings(tokens: entries ?? [], maxMessageBytes: maxMessageBytes, maxRecipients: 5)
        settings.spoolThresholdBytes = threshold
        settings.spoolDirectory = "/tmp"
        return GatewayEndpoint(
            settings: settings, lifecycle: lifecycle, bodyMemory: budget,
            messageIDHost: MessageIDHost(fixed: "id.example.net"), metricsText: { "" })
    }

    func head(
        _ method: String = "POST", _ target: String = "/v1/messages", type: String? = "application/json",
        extra: [(String, String)] = []
    ) -> RequestHead {
        var headers = [(name: "Host", value: "g.test")]
        if let type { headers.append((name: "Content-Type", value: type)) }
        return RequestHead(
            method: method, target: Array(target.utf8), headers: headers + extra.map { (name: $0.0, value: $0.1) })
    }

    func refusal(_ plan: (RequestPlan, RequestSummary)) -> (Int, String?)? {
        guard case .answer(let response) = plan.0 else { return nil }
        return (response.status, plan.1.error)
    }

    func prepare(_ e: GatewayEndpoint, _ json: String, token: String? = nil) -> (PreparedRequest, RequestSummary) {
        let plan = e.plan(head(extra: token.map { [("Authorization", "Bearer \($0)")] } ?? []))
        guard case .readCompose(let limit, _) = plan.0 else { return (.answer(HTTPResponse(status: 0)), plan.1) }
        let body = e.makeStore(limit: limit)
        body.append(Array(json.utf8))
        return e.prepare(plan.0, body: body)
    }

    static let simple = #"{"from":"Shop <shop@example.org>","to":"bob@x.test","subject":"Hi","text":"Hello\n"}"#

    @Test func theHeadIsScreenedAsForDeliveries() throws {
        let e = try endpoint()
        guard case .readCompose(let limit, _) = e.plan(head()).0 else {
            Issue.record("not read")
            return
        }
        #expect(limit == e.settings.maxJSONBodyBytes)
        #expect(refusal(e.plan(head("GET")))! == (405, "method_not_allowed"))
        #expect(refusal(e.plan(head("PUT", "/v1/messages")))! == (405, "method_not_allowed"))
        #expect(refusal(e.plan(head(type: "message/rfc822")))! == (415, "unsupported_media_type"))
        #expect(refusal(e.plan(head(type: nil)))! == (415, "unsupported_media_type"))
        #expect(refusal(e.plan(head("POST", "/v1/messages?sender=a%40b.c")))! == (400, "invalid_query"))
        let tooLong = head(extra: [("Content-Length", String(e.settings.maxJSONBodyBytes + 1))])
        #expect(refusal(e.plan(tooLong))! == (413, "message_too_large"))
        #expect(refusal(e.plan(head("POST", "/v1/messages/x")))! == (404, "not_found"))

        let draining = Lifecycle()
        draining.beginDraining()
        #expect(refusal(try endpoint(lifecycle: draining).plan(head()))! == (503, "shutting_down"))
    }

    @Test func tokensAndTheirRateApplyFromTheHead() throws {
        let e = try endpoint(tokens: "app-token name=app rate=1/min")
        #expect(refusal(e.plan(head()))! == (401, "unauthorized"))
        let first = e.plan(head(extra: [("Authorization", "Bearer app-token")]))
        guard case .readCompose(_, let access) = first.0 else {
            Issue.record("not read")
            return
        }
        #expect(first.1.token == "app" && access.rateFields.contains { $0.name == "RateLimit" })
        #expect(refusal(e.plan(head(extra: [("Authorization", "Bearer app-token")])))! == (429, "rate_limited"))
    }

    @Test func theBodyBecomesASubmissionWithItsMessageID() throws {
        let (prepared, summary) = prepare(try endpoint(), Self.simple)
        guard case .deliver(let submission, _) = prepared else {
            Issue.record("not delivered: \(summary.error ?? "")")
            return
        }
        let messageID = try #require(submission.messageID)
        #expect(messageID.hasSuffix("@id.example.net") && messageID.count == 25 + 15)
        #expect(submission.input.sender == Array("shop@example.org".utf8))
        #expect(submission.input.recipients == [Array("bob@x.test".utf8)] && submission.input.host == nil)
        let text = String(decoding: submission.message.bytes(), as: UTF8.self)
        #expect(text.hasPrefix("Date: ") && text.contains("\r\nMessage-ID: <\(messageID)>\r\n"))
        #expect(text.contains("\r\nFrom: Shop <shop@example.org>\r\n") && text.hasSuffix("\r\n\r\nHello\r\n"))
        #expect(summary.sender == "shop@example.org" && summary.recipientCount == 1 && summary.error == nil)

        guard case .deliver(let again, _) = prepare(try endpoint(), Self.simple).0 else { return }
        #expect(again.messageID != messageID)
    }

    @Test func theSenderPolicyCoversTheEnvelopeAndFrom() throws {
        let e = try endpoint(tokens: "app-token name=app senders=@example.org hosts=x.test recipients=2 rate=100/min")
        func code(_ json: String) -> String? { prepare(e, json, token: "app-token").1.error }
        #expect(code(Self.simple) == nil)
        #expect(code(#"{"from":"eve@evil.test","to":"bob@x.test","text":"x"}"#) == "sender_not_allowed")
        let from = prepare(
            e, #"{"from":"eve@evil.test","to":"bob@x.test","text":"x","sender":"b@example.org"}"#,
            token: "app-token")
        guard case .answer(let response) = from.0 else { return }
        #expect(
            response.status == 403 && String(decoding: response.body, as: UTF8.self).contains("From: eve@evil.test"))
        #expect(
            code(#"{"from":"a@example.org","to":"bob@x.test","text":"x","sender":"e@evil.test"}"#)
                == "sender_not_allowed")
        #expect(code(#"{"from":"a@example.org","to":"bob@y.test","text":"x"}"#) == "host_not_allowed")
        #expect(
            code(#"{"from":"a@example.org","to":["a@x.test","b@x.test"],"bcc":"c@x.test","text":"x"}"#)
                == "too_many_recipients_for_token")
        // Refusals after the body carry the token's rate-limit fields, as every answer to it does.
        #expect(response.headers.contains { $0.name == "RateLimit-Policy" })
    }

    @Test func refusalsOfTheBodyKeepTheirCodes() throws {
        let e = try endpoint(maxMessageBytes: 2000)
        let cases: [(String, Int, String)] = [
            ("{", 400, "malformed_json"),
            (#"{"from":"a@b.c","to":"d@x.test"}"#, 400, "missing_field"),
            (#"{"from":"a@b.c","to":"d@x.test","text":"x","subject":"a\r\nBcc: e@v.il"}"#, 400, "invalid_field"),
            (#"{"from":"a@b.c","to":"d@x.test","text":"x","headers":{"Bcc":"e@v.il"}}"#, 400, "invalid_header"),
            (
                #"{"from":"a@b.c","to":"d@x.test","text":""# + String(repeating: "x", count: 2001) + "\"}", 413,
                "message_too_large"
            ),
            (
                #"{"from":"a@b.c","to":"d@x.test","text":""# + String(repeating: "x", count: 1990) + "\"}", 413,
                "message_too_large"
            ),
            (#"{"from":"jöhn@example.org","to":"d@x.test","text":"x","sender":"a@b.c"}"#, 400, "invalid_address"),
        ]
        for (json, status, expected) in cases {
            let (prepared, summary) = prepare(e, json)
            guard case .answer(let response) = prepared else {
                Issue.record("not refused: \(json)")
                continue
            }
            #expect(response.status == status && summary.error == expected, "\(json)")
        }
        let attachment = #"{"filename":"a","content_base64":"QQ=="}"#
        let many = { (count: Int) in
            #"{"from":"a@b.c","to":"d@x.test","text":"x","attachments":["#
                + Array(repeating: attachment, count: count).joined(separator: ",") + "]}"
        }
        #expect(prepare(try endpoint(), many(100)).1.error == nil)
        #expect(prepare(try endpoint(), many(101)).1.error == "invalid_field")
        // A UTF-8 From: address in the envelope too asks the core for SMTPUTF8: allowed.
        #expect(prepare(e, #"{"from":"jöhn@example.org","to":"d@x.test","text":"x"}"#).1.error == nil)
    }

    @Test func largePartsAndMessagesAreSpooledNotHeld() throws {
        let budget = BodyMemory(limit: 1 << 20)
        let e = try endpoint(maxMessageBytes: 1 << 20, threshold: 4096, budget: budget)
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let json =
            #"{"from":"a@b.c","to":"d@x.test","text":"x\n","attachments":[{"filename":"big.bin","content_base64":""#
            + String(decoding: Base64.encode(content), as: UTF8.self) + "\"}]}"
        let (prepared, summary) = prepare(e, json)
        guard case .deliver(let submission, _) = prepared else {
            Issue.record("not delivered: \(summary.error ?? "")")
            return
        }
        #expect(submission.message.isSpooled && submission.message.count > 400_000)
        #expect(budget.inUse == 0)
        let text = String(decoding: submission.message.bytes(), as: UTF8.self)
        #expect(text.contains(String(decoding: Base64.encode(Array(content[0..<57])), as: UTF8.self)))
    }

    @Test func aSmallMessageIsHeldInMemoryOnTheBudget() throws {
        let budget = BodyMemory(limit: 1 << 20)
        let e = try endpoint(budget: budget)
        var prepared: PreparedRequest? = prepare(e, Self.simple).0
        guard case .deliver(let submission, _) = prepared else {
            Issue.record("not delivered")
            return
        }
        #expect(!submission.message.isSpooled && budget.inUse == submission.message.count)
        prepared = nil
        _ = consume submission
        #expect(budget.inUse == 0 && prepared == nil)
    }

    @Test func theAnswerIsThatOfDeliveriesWithTheMessageID() throws {
        let e = try endpoint()
        let input = try DeliveryInput(
            sender: Array("a@b.test".utf8), recipients: [Array("u@x.test".utf8)], host: nil, maxRecipients: 3)
        let result = GroupResult(
            host: Array("x.test".utf8), recipientIndices: [0],
            report: DeliveryReport(
                recipientReports: [Report(.recipientAccepted, [])], messageReport: Report(.messageAccepted, "ok\n")))
        let plain = e.answer(Submission(input, StoredMessage([])), results: [result]).0
        let composed = e.answer(Submission(input, StoredMessage([]), messageID: "abc@id.test"), results: [result]).0
        #expect(composed.status == plain.status)
        #expect(
            String(decoding: composed.body, as: UTF8.self)
                == #"{"message_id":"abc@id.test","# + String(decoding: plain.body.dropFirst(), as: UTF8.self))
    }
}
