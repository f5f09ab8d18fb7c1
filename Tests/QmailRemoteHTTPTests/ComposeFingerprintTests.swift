// The idempotency fingerprint of a compose request: the same fields however
// the JSON writes them give the same fingerprint, wherever the parts are
// kept; any change of any field (an address's form, a byte of an
// attachment, the envelope) gives another.

import Testing

@testable import QmailRemoteHTTP

@Suite struct ComposeFingerprintTests {
    func fingerprint(_ json: String, threshold: Int = .max) throws -> [UInt8] {
        let budget = BodyMemory(limit: 1 << 24)
        let payload = try ComposePayload.decode(StoredMessage(Array(json.utf8)), maxMessageBytes: 1 << 20) {
            SpooledBytes(limit: 1 << 20, threshold: threshold, budget: budget, spoolDirectory: "/tmp")
        }
        return try #require(payload.fingerprint())
    }

    static let base =
        #"{"from":"Shop <shop@example.org>","to":["bob@x.test"],"subject":"Hi","text":"Hello\n","#
        + #""attachments":[{"filename":"a.bin","content_base64":"AAECAw=="}]}"#

    @Test func theJSONsFormDoesNotMatter() throws {
        let same = [
            Self.base,
            #"""
            { "to" : "bob@x.test", "text": "Hell\u006f\n", "subject": "Hi",
              "attachments": [ {"content_base64": "AAECAw==", "filename": "a.bin"} ],
              "from": "Shop <shop@example.org>" }
            """#,
        ]
        #expect(try fingerprint(same[0]) == fingerprint(same[1]))
        #expect(try fingerprint(Self.base) == fingerprint(Self.base, threshold: 2))
    }

    @Test func everyFieldCounts() throws {
        let variants = [
            Self.base,
            Self.base.replacing("Shop <shop@example.org>", with: "shop@example.org"),
            Self.base.replacing(
                #""Shop <shop@example.org>""#, with: #"{"name":"Shop","address":"shop@example.org"}"#),
            Self.base.replacing(#""to":["bob@x.test"]"#, with: #""cc":["bob@x.test"]"#),
            Self.base.replacing(#""to":["bob@x.test"]"#, with: #""to":["bob@x.test"],"bcc":"c@x.test""#),
            Self.base.replacing(#""subject":"Hi""#, with: #""subject":"Hi ""#),
            Self.base.replacing(#""subject":"Hi","#, with: ""),
            Self.base.replacing(#""text":"Hello\n""#, with: #""html":"Hello\n""#),
            Self.base.replacing("AAECAw==", with: "AAECBA=="),
            Self.base.replacing("a.bin", with: "b.bin"),
            Self.base.replacing(#""a.bin""#, with: #""a.bin","content_type":"image/png""#),
            Self.base.replacing(#""a.bin""#, with: #""a.bin","content_id":"c""#),
            Self.base.replacing(#""subject""#, with: #""headers":{"X-A":"1"},"subject""#),
            Self.base.replacing(#""subject""#, with: #""sender":"","subject""#),
            Self.base.replacing(#""subject""#, with: #""recipients":["bob@x.test"],"subject""#),
            Self.base.replacing(#""subject""#, with: #""host":"x.test","subject""#),
        ]
        let prints = try variants.map { try fingerprint($0) }
        #expect(Set(prints).count == variants.count)
    }
}
