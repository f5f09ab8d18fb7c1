// Request decoding without a server: the JSON payload, the raw query, and the
// checks that keep bad requests away from any SMTP server.

import Testing
@testable import QmailRemoteHTTP

@Suite struct RequestDecodingTests {
    func decode(_ json: String) throws(APIError) -> JSONPayload {
        try JSONPayload.decode(Array(json.utf8), maxMessageBytes: 100)
    }

    func code(_ json: String) -> String? {
        do { _ = try decode(json); return nil } catch { return error.code }
    }

    @Test func acceptsTextAndBase64Messages() throws {
        let text = try decode(#"{"sender":"a@b","recipients":["c@d"],"message":"hi\n"}"#)
        #expect(text.message == Array("hi\n".utf8) && text.host == nil)
        let binary = try decode(#"{"sender":"","recipients":["c@d"],"host":"d","message_base64":"AP8K"}"#)
        #expect(binary.message == [0, 255, 10] && binary.host == "d")
    }

    @Test func refusals() {
        #expect(code("{") == "malformed_json")
        #expect(code("[]") == "malformed_json")
        #expect(code(#"{"sender":"a","recipients":["c"],"message":"x","extra":1}"#) == "unknown_field")
        #expect(code(#"{"recipients":["c"],"message":"x"}"#) == "missing_field")
        #expect(code(#"{"sender":1,"recipients":["c"],"message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":"c","message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":[1],"message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":["c"],"host":null,"message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":["c"]}"#) == "invalid_message")
        #expect(code(#"{"sender":"a","recipients":["c"],"message":"x","message_base64":"eA=="}"#) == "invalid_message")
        #expect(code(#"{"sender":"a","recipients":["c"],"message_base64":"not base64!"}"#) == "invalid_base64")
        #expect(
            code(#"{"sender":"a","recipients":["c"],"message":""# + String(repeating: "x", count: 101) + #""}"#)
                == "message_too_large")
    }

    func inputCode(sender: String = "a@b.test", _ recipients: [String], host: String? = nil, max: Int = 3) -> String? {
        do {
            _ = try DeliveryInput(
                sender: Array(sender.utf8), recipients: recipients.map { Array($0.utf8) },
                host: host.map { Array($0.utf8) }, maxRecipients: max)
            return nil
        } catch { return error.code }
    }

    @Test func envelopeChecks() {
        #expect(inputCode(["u@x.test"]) == nil)
        #expect(inputCode([]) == "no_recipients")
        #expect(inputCode(["a@x.test", "b@x.test", "c@x.test", "d@x.test"]) == "too_many_recipients")
        #expect(inputCode(sender: "a\r\n@b", ["u@x.test"]) == "invalid_sender")
        #expect(inputCode(["u@x.test", "v\n@x.test"]) == "invalid_recipient")
        #expect(inputCode(["u@x.test\u{0}"]) == "invalid_recipient")
        #expect(inputCode(["nodomain"]) == "invalid_recipient")
        #expect(inputCode(["nodomain"], host: "x.test") == nil)
        #expect(inputCode(["u@x.test"], host: "x.test\r\n") == "invalid_host")
        #expect(inputCode(["u@x.test"], host: "not a host") == "invalid_host")
        #expect(inputCode(["u@x.test"], host: "[127.0.0.1]") == nil)
    }

    @Test func groupsByDomainCaseInsensitivelyInFirstSeenOrder() throws {
        let input = try DeliveryInput(
            sender: [], recipients: ["a@B.test", "b@c.test", "c@b.TEST"].map { Array($0.utf8) },
            host: nil, maxRecipients: 10)
        let groups = input.groups
        #expect(groups.map { String(decoding: $0.host, as: UTF8.self) } == ["b.test", "c.test"])
        #expect(groups.map(\.recipientIndices) == [[0, 2], [1]])
    }

    @Test func rawQuery() throws {
        let envelope = try RawQuery.envelope([
            ("sender", []), ("recipient", Array("a@b".utf8)), ("recipient", Array("c@d".utf8)),
        ])
        #expect(envelope.sender == [] && envelope.recipients.count == 2 && envelope.host == nil)
        #expect(throws: APIError.self) { try RawQuery.envelope([("recipient", [])]) }
        #expect(throws: APIError.self) { try RawQuery.envelope([("sender", []), ("sender", [])]) }
        #expect(throws: APIError.self) { try RawQuery.envelope([("sender", []), ("bcc", [])]) }
    }

    @Test func listenAddresses() {
        #expect(ListenAddress("127.0.0.1:8025")?.isLoopback == true)
        #expect(ListenAddress("localhost:1")?.host == "127.0.0.1")
        #expect(ListenAddress("[::1]:8025")?.isLoopback == true)
        #expect(ListenAddress("[::]:8025")?.isLoopback == false)
        #expect(ListenAddress("0.0.0.0:8025")?.isLoopback == false)
        #expect(ListenAddress("example.com:80") == nil)
        #expect(ListenAddress("127.0.0.1") == nil)
        #expect(ListenAddress("127.0.0.1:70000") == nil)
    }
}
