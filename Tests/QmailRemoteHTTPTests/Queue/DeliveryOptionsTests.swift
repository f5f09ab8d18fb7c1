// Idempotency-Key and Prefer as the endpoint reads them: keys bare or as
// structured-field strings, every malformed key refused before the body,
// respond-async among other preferences, and the scope an Access gives.

import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct DeliveryOptionsTests {
    func options(_ headers: [(String, String)]) throws(APIError) -> DeliveryOptions {
        try DeliveryOptions(
            head: RequestHead(
                method: "POST", target: Array("/v1/deliveries".utf8),
                headers: headers.map { (name: $0.0, value: $0.1) }))
    }

    @Test func keysBareOrQuotedAreTheSameKey() throws {
        #expect(try options([("Idempotency-Key", "abc-123")]).idempotencyKey == "abc-123")
        #expect(try options([("Idempotency-Key", "\"abc-123\"")]).idempotencyKey == "abc-123")
        #expect(try options([("Idempotency-Key", #""a\"b\\c""#)]).idempotencyKey == #"a"b\c"#)
        #expect(try options([("Idempotency-Key", "with space")]).idempotencyKey == "with space")
        #expect(try options([("idempotency-key", String(repeating: "k", count: 255))]).idempotencyKey?.count == 255)
        #expect(try options([]).idempotencyKey == nil)
        #expect(try options([]) == .immediate && !(try options([])).needsStore)
    }

    @Test func badKeysAre400() {
        let bad = [
            "", "\"\"", String(repeating: "k", count: 256), "caf\u{e9}", "tab\there", "\"open", "\"a\"b\"",
            #""a\nb""#, "\u{7f}",
        ]
        for key in bad {
            do {
                _ = try options([("Idempotency-Key", key)])
                Issue.record("accepted \(key)")
            } catch {
                #expect(error.status == 400 && error.code == "invalid_idempotency_key", "\(key)")
            }
        }
        #expect(throws: APIError.self) { try options([("Idempotency-Key", "a"), ("Idempotency-Key", "a")]) }
    }

    @Test func respondAsyncAmongOtherPreferences() throws {
        for value in [
            "respond-async", "Respond-Async", " respond-async ", "return=minimal, respond-async",
            "wait=10, respond-async; x=1", #"foo="a, b", respond-async"#,
        ] {
            #expect(try options([("Prefer", value)]).respondAsync, "\(value)")
        }
        for value in ["return=minimal", #"foo="respond-async""#, "respond-asynchronously", "respond-async=no-not"] {
            let expected = value.hasPrefix("respond-async=")
            #expect(try options([("Prefer", value)]).respondAsync == expected, "\(value)")
        }
        #expect(try options([("Prefer", "wait=5"), ("Prefer", "respond-async")]).respondAsync)
    }

    @Test func theScopeIsTheHashTheTokenFileHolds() {
        let plain = Access(policy: TokenPolicy(token: "secret", name: "shop"))
        #expect(plain.scope == StoreScope(token: Array("secret".utf8)))
        // A file that gives only the token's hash names the same scope.
        let hashed = Access(
            policy: TokenPolicy(credential: .tokenHash(SHA256.digest(Array("secret".utf8))), name: "shop2"))
        #expect(hashed.scope == plain.scope)
        #expect(Access().scope == .anonymous)
        // A client certificate's subject is never the scope of a token with that text.
        let subject = "CN=client,O=Example"
        let certified = Access(policy: TokenPolicy(credential: .certificateSubject(subject), name: "cert"))
        #expect(certified.scope != StoreScope(token: Array(subject.utf8)) && certified.scope != .anonymous)
        #expect(certified.scope == StoreScope(certificateSubject: subject))
    }
}
