// Request decoding without a server: the streaming JSON payload (in memory
// and spooled, pieces cut anywhere), the raw query, the envelope checks that
// keep bad requests away from any SMTP server, and the request target.

import QmailRemote
import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct RequestDecodingTests {
    let budget = BodyMemory(limit: 1 << 20)

    func store(limit: Int = 100, threshold: Int = 1 << 20) -> SpooledBytes {
        SpooledBytes(limit: limit, threshold: threshold, budget: budget, spoolDirectory: "/tmp")
    }

    func decode(_ json: String, spooled: Bool = false, maxMessage: Int = 100) throws(APIError) -> JSONPayload {
        try decode(bytes: Array(json.utf8), spooled: spooled, maxMessage: maxMessage)
    }

    func decode(bytes: [UInt8], spooled: Bool = false, maxMessage: Int = 100) throws(APIError) -> JSONPayload {
        let body = store(limit: 1 << 30, threshold: spooled ? 0 : 1 << 20)
        body.append(bytes)
        return try JSONPayload.decode(body.finish()!, maxRecipients: 3) { store(limit: maxMessage) }
    }

    func code(_ json: String) -> String? { code(bytes: Array(json.utf8)) }

    func code(bytes: [UInt8]) -> String? {
        do { _ = try decode(bytes: bytes); return nil } catch { return error.code }
    }

    @Test func acceptsTextAndBase64Messages() throws {
        let text = try decode(#"{"sender":"a@b","recipients":["c@d"],"message":"hi\n"}"#)
        #expect(text.message.bytes() == Array("hi\n".utf8) && text.host == nil && text.sender == Array("a@b".utf8))
        let binary = try decode(#"{"sender":"","recipients":["c@d"],"host":"d","message_base64":"AP8K"}"#)
        #expect(binary.message.bytes() == [0, 255, 10] && binary.host == Array("d".utf8))
    }

    @Test func escapesAndUnicodeDecode() throws {
        let payload = try decode(#"{"sender":"","recipients":["c@d"],"message":"\u00e9\ud83d\ude00\t\"\\\/x"}"#)
        #expect(payload.message.bytes() == Array("é😀\t\"\\/x".utf8))
    }

    @Test func refusals() {
        #expect(code("{") == "malformed_json")
        #expect(code("") == "malformed_json")
        #expect(code("[]") == "malformed_json")
        #expect(code(#"{"sender":"a","recipients":["c"],"message":"x"} x"#) == "malformed_json")
        #expect(
            code(bytes: Array(#"{"sender":""#.utf8) + [0xC3] + Array(#"","recipients":["c"],"message":"x"}"#.utf8))
                == "malformed_json")
        #expect(code(bytes: Array(#"{"sender":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8)) == "malformed_json")
        #expect(code(#"{"sender":"\ud800","recipients":[],"message":"x"}"#) == "malformed_json")
        #expect(code(#"{"sender":"a","sender":"b","recipients":["c"],"message":"x"}"#) == "malformed_json")
        #expect(code(#"{"sender":"a","recipients":["c"],"message":"x","extra":1}"#) == "unknown_field")
        #expect(code(#"{"recipients":["c"],"message":"x"}"#) == "missing_field")
        #expect(code(#"{"sender":1,"recipients":["c"],"message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":null,"recipients":["c"],"message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":"c","message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":[1],"message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":["c"],"host":null,"message":"x"}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":["c"],"message":5}"#) == "invalid_field")
        #expect(code(#"{"sender":"a","recipients":["c"]}"#) == "invalid_message")
        #expect(code(#"{"sender":"a","recipients":["c"],"message":"x","message_base64":"eA=="}"#) == "invalid_message")
        #expect(code(#"{"sender":"a","recipients":["c"],"message_base64":"not base64!"}"#) == "invalid_base64")
        #expect(code(#"{"sender":"a","recipients":["c"],"message_base64":"eA"}"#) == "invalid_base64")
        #expect(
            code(#"{"sender":"a","recipients":["c"],"message":""# + String(repeating: "x", count: 101) + #""}"#)
                == "message_too_large")
        #expect(
            code(#"{"sender":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}")
                == "malformed_json")
    }

    @Test func syntaxErrorsWinAndSayWhere() {
        do {
            _ = try decode(#"{"extra":1, "sender":"#)
            Issue.record("decoded")
        } catch {
            #expect(error.code == "malformed_json")
            #expect(error.message.contains("at byte 21"))
        }
    }

    @Test func recipientsBeyondTheLimitAreCountedNotKept() throws {
        let many = (0..<50).map { "\"r\($0)@x.test\"" }.joined(separator: ",")
        let payload = try decode(#"{"sender":"","recipients":[\#(many)],"message":"x"}"#)
        #expect(payload.recipientCount == 50 && payload.recipients.count == 4)
    }

    /// A message of `size` bytes as base64, the JSON spooled and read in 64 KiB pieces.
    @Test(arguments: [0, 1, 2, 3, 49_151, 49_152, 49_153, 200_000])
    func spooledBase64AcrossPieces(size: Int) throws {
        let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        let encoded = String(decoding: Base64.encode(message), as: UTF8.self)
        let payload = try decode(
            #"{"sender":"","recipients":["c@d"],"message_base64":"\#(encoded)"}"#, spooled: true, maxMessage: 1 << 20)
        #expect(payload.message.bytes() == message)
        #expect(payload.message.facts.size >= size)
    }

    @Test func spooledTextWithEscapesAcrossPieces() throws {
        let line = "é \\\"quoted\\\" \\u00e9 \\ud83d\\ude00 tab\\t end\\n"
        let text = String(repeating: line, count: 4000)
        let payload = try decode(
            #"{"sender":"","recipients":["c@d"],"message":"\#(text)"}"#, spooled: true, maxMessage: 1 << 20)
        let expected = String(repeating: "é \"quoted\" é 😀 tab\t end\n", count: 4000)
        #expect(payload.message.bytes() == Array(expected.utf8))
    }

    @Test func paddingInTheMiddleOfLongBase64IsRefused() {
        let first = String(repeating: "QUJD", count: 20_000) + "QQ=="
        let json = #"{"sender":"","recipients":["c@d"],"message_base64":"\#(first)QUJD"}"#
        do {
            _ = try decode(json, spooled: true, maxMessage: 1 << 20)
            Issue.record("decoded")
        } catch { #expect(error.code == "invalid_base64") }
    }

    func inputCode(
        sender: String = "a@b.test", _ recipients: [String], host: String? = nil, max: Int = 3
    ) -> String? {
        do {
            _ = try DeliveryInput(
                sender: Array(sender.utf8), recipients: recipients.map { Array($0.utf8) },
                host: host.map { Array($0.utf8) }, maxRecipients: max)
            return nil
        } catch { return error.code }
    }

    @Test func envelopeChecks() {
        #expect(inputCode(["u@x.test"]) == nil)
        #expect(inputCode(sender: "", ["u@x.test"]) == nil)
        #expect(inputCode([]) == "no_recipients")
        #expect(inputCode(["a@x.test", "b@x.test", "c@x.test", "d@x.test"]) == "too_many_recipients")
        #expect(inputCode(sender: "a\r\n@b", ["u@x.test"]) == "invalid_sender")
        #expect(inputCode(sender: "nodomain", ["u@x.test"]) == "invalid_sender")
        #expect(inputCode(["u@x.test", "v\n@x.test"]) == "invalid_recipient")
        #expect(inputCode(["u@x.test\u{0}"]) == "invalid_recipient")
        #expect(inputCode(["nodomain"]) == "invalid_recipient")
        #expect(inputCode(["u@x.test"], host: "x.test\r\n") == "invalid_host")
        #expect(inputCode(["u@x.test"], host: "not a host") == "invalid_host")
        #expect(inputCode(["u@x.test"], host: "[127.0.0.1]") == nil)
    }

    @Test func emptyAndDomainlessRecipientsAreRefusedEvenWithAHost() {
        #expect(inputCode([""], host: "x.test") == "invalid_recipient")
        #expect(inputCode(["@"], host: "x.test") == "invalid_recipient")
        #expect(inputCode(["@x.test"], host: "x.test") == "invalid_recipient")
        #expect(inputCode(["u@"], host: "x.test") == "invalid_recipient")
        #expect(inputCode(["nodomain"], host: "x.test") == "invalid_recipient")
    }

    @Test func rfc5321Lengths() {
        let local64 = String(repeating: "l", count: 64)
        #expect(inputCode(["\(local64)@x.test"]) == nil)
        #expect(inputCode(["\(local64)l@x.test"]) == "invalid_recipient")
        #expect(inputCode(sender: "\(local64)l@b.test", ["u@x.test"]) == "invalid_sender")
        let label = String(repeating: "d", count: 60)
        let domain = [label, label, label, "x.test"].joined(separator: ".")
        #expect(inputCode(["u@\(domain)"]) == nil)
        let longDomain = [label, label, label, label, label].joined(separator: ".")
        #expect(inputCode(["u@\(longDomain)"], host: "x.test") == "invalid_recipient")
        // 64 + 1 + 190 = 255 octets: each part fits, the address does not.
        let wide = "\(local64)@" + [label, label, label, "xyzabcd"].joined(separator: ".")
        #expect(wide.utf8.count == 255)
        #expect(inputCode([wide], host: "x.test") == "invalid_recipient")
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

    @Test func requestTarget() throws {
        let (path, query) = try RequestTarget.parse(Array("/v1/deliveries?sender=a%40b&recipient=x+y%00&host".utf8))
        #expect(path == "/v1/deliveries")
        #expect(query.map(\.key) == ["sender", "recipient", "host"])
        #expect(query[0].value == Array("a@b".utf8) && query[1].value == [120, 32, 121, 0] && query[2].value == [])
        for bad in ["/v1/deliveries%00xyz", "/healthz%00/../metrics", "/a b", "/a\tb", "/%zz", "/x?a=%4", "/é", "/#x"] {
            #expect(throws: APIError.self) { try RequestTarget.parse(Array(bad.utf8)) }
        }
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

@Suite struct JSONNodeTests {
    @Test func wholeValues() throws {
        let node = try JSONReader.parse(Array(#" {"a":[1,-2.5e3,true,false,null],"b":{"c":"\u00e9"}} "#.utf8))
        #expect(
            node
                == .object([
                    ("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null])),
                    ("b", .object([("c", .string("é"))])),
                ]))
    }

    @Test func refusalsSayWhere() {
        for (text, offset) in [("{\"a\":1,\"a\":2}", 10), ("[1,]", 3), ("{} x", 3), ("", 0), ("[01]", 2)] {
            do {
                _ = try JSONReader.parse(Array(text.utf8))
                Issue.record("parsed \(text)")
            } catch {
                #expect(error.offset == offset, "\(text): \(error)")
            }
        }
        #expect(throws: JSONSyntaxError.self) { try JSONReader.parse(Array(String(repeating: "[", count: 40).utf8)) }
    }
}
