// The token file and what its entries allow, in memory: each attribute with
// allowed and refused cases, hashed tokens, client-certificate subjects, the
// rate with its RateLimit fields and 429, and files that must stop the start.

import QmailRemote
import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct TokenPolicyTests {
    func lines(_ text: String) -> [[UInt8]] {
        Array(text.utf8).split(separator: 10, omittingEmptySubsequences: false).map(Array.init)
    }

    func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    func input(_ sender: String, _ recipients: [String], host: String? = nil) throws -> DeliveryInput {
        try DeliveryInput(
            sender: Array(sender.utf8), recipients: recipients.map { Array($0.utf8) },
            host: host.map { Array($0.utf8) },
            maxRecipients: 100)
    }

    @Test func plainAndHashedTokensAreFoundByTheirBearer() throws {
        let hashed = hex(SHA256.digest(Array("hashed-secret".utf8)))
        let entries = try TokenFile.parse(
            lines("# comment\n\nplain-secret name=plain\n  sha256:\(hashed.uppercased()) name=hashed  \r\n"))
        let tokens = BearerTokens(entries)
        #expect(tokens.entry(for: "Bearer plain-secret")?.name == "plain")
        #expect(tokens.entry(for: "bearer hashed-secret")?.name == "hashed")
        #expect(tokens.entry(for: "Bearer sha256:\(hashed)") == nil)
        #expect(tokens.entry(for: "Bearer plain-secre") == nil)
        #expect(tokens.entry(for: "Basic plain-secret") == nil)
        #expect(tokens.entry(for: nil) == nil)
    }

    @Test func namesDefaultToTheLine() throws {
        let entries = try TokenFile.parse(lines("a-token\n# x\nb-token name=b"))
        #expect(entries.map(\.name) == ["line1", "b"])
    }

    @Test func badFilesNameTheLine() {
        let cases: [(String, String)] = [
            ("", "it holds no token"),
            ("# only a comment\n\n", "it holds no token"),
            ("good-token\nsha256:abc", "line 2: sha256: must be followed by 64 hex digits"),
            ("t1 name=a\nt2 name=a", "line 2: the name a is used twice (also entry 1)"),
            ("t1\nt1", "line 2: the same token or subject is given twice"),
            ("t1 colour=red", "line 1: colour=red is not an attribute (name, senders, hosts, rate, burst, recipients)"),
            ("t1 rate=ten/min", "line 1: rate=ten/min is not N/s, N/min, N/h or N/day"),
            ("t1 burst=5", "line 1: burst= needs rate="),
            ("t1 recipients=0", "line 1: recipients=0 is not a whole number above 0"),
            ("t1 senders=@", "line 1: senders= has \"@\", which is not a pattern it takes"),
            ("t1 hosts=a@b", "line 1: hosts= has \"a@b\", which is not a pattern it takes"),
            (
                "t1 name=\"a b\"",
                "line 1: name= must be 1 to 64 visible ASCII characters, without quotes or backslashes"
            ),
            ("subject:\"CN=x", "line 1: a double quote is not closed"),
            ("name=x", "line 1: the line starts with an attribute; give the token first"),
            ("t1 rate=1/s rate=2/s", "line 1: rate= is given twice"),
        ]
        for (text, message) in cases {
            do {
                _ = try TokenFile.parse(lines(text))
                Issue.record("parsed: \(text)")
            } catch {
                #expect(error.description == message, "\(text)")
            }
        }
    }

    @Test func sendersAllowAndRefuse() throws {
        let entry = try TokenFile.parse(lines("t1 senders=@example.org,.example.net,app@x.org,<>"))[0]
        for allowed in ["a@example.org", "b@EXAMPLE.org", "c@mail.example.net", "app@x.org", "app@X.ORG", ""] {
            #expect(throws: Never.self, "\(allowed)") { try entry.permitSender(Array(allowed.utf8)) }
        }
        for refused in ["a@sub.example.org", "c@example.net", "App@x.org", "other@x.org", "a@example.org.evil"] {
            #expect(throws: APIError.self, "\(refused)") { try entry.permitSender(Array(refused.utf8)) }
        }
        let noBounces = try TokenFile.parse(lines("t1 senders=@example.org"))[0]
        do throws(APIError) {
            try noBounces.permitSender([])
            Issue.record("the empty sender passed")
        } catch {
            #expect(error.status == 403 && error.code == "sender_not_allowed")
        }
        #expect(throws: APIError.self) {
            try noBounces.permitFrom([Array("a@example.org".utf8), Array("b@x.org".utf8)])
        }
        #expect(throws: Never.self) { try noBounces.permitFrom([Array("a@example.org".utf8)]) }
        let anyone = try TokenFile.parse(lines("t1"))[0]
        #expect(throws: Never.self) { try anyone.permitSender(Array("x@y.z".utf8)) }
    }

    @Test func hostsAndRecipientsAllowAndRefuse() throws {
        let entry = try TokenFile.parse(lines("t1 hosts=example.com,.example.net recipients=2"))[0]
        #expect(throws: Never.self) {
            try entry.permitDelivery(try input("a@b", ["u@example.com", "v@x.example.net"]))
        }
        #expect(throws: Never.self) { try entry.permitDelivery(try input("a@b", ["u@a.test"], host: "Example.COM")) }
        let mixed = try input("a@b", ["u@example.com", "v@example.net"])
        do throws(APIError) {
            try entry.permitDelivery(mixed)
            Issue.record("example.net passed")
        } catch {
            #expect(error.code == "host_not_allowed" && error.status == 403)
        }
        #expect(throws: APIError.self) { try entry.permitDelivery(try input("a@b", ["u@x.test"], host: "127.0.0.1")) }
        let three = try input("a@b", ["a@example.com", "b@example.com", "c@example.com"])
        do throws(APIError) {
            try entry.permitDelivery(three)
            Issue.record("three recipients passed")
        } catch {
            #expect(error.code == "too_many_recipients_for_token" && error.status == 403)
        }
    }

    @Test func rateIsABucketWithItsFields() throws {
        let entry = try TokenFile.parse(lines("t1 name=app rate=60/min burst=2"))[0]
        let rate = try #require(entry.rate)
        #expect(rate.count == 60 && rate.windowSeconds == 60 && rate.burst == 2)
        let limiter = RateLimiter()
        let first = limiter.take("app", rate, now: 100)
        let second = limiter.take("app", rate, now: 100)
        let third = limiter.take("app", rate, now: 100.5)
        #expect(first == .init(allowed: true, remaining: 1, resetSeconds: 1))
        #expect(second.allowed && second.remaining == 0 && second.resetSeconds == 1)
        #expect(!third.allowed && third.remaining == 0 && third.resetSeconds == 1)
        #expect(limiter.take("app", rate, now: 101.6).allowed)
        #expect(limiter.take("other", rate, now: 100).allowed)
        #expect(
            RateLimiter.fields(rate, third).map { "\($0.name): \($0.value)" } == [
                "RateLimit-Policy: \"token\";q=60;w=60", "RateLimit: \"token\";r=0;t=1",
            ])
        #expect(RateLimit("600/min", burst: nil)?.burst == 600)
        #expect(RateLimit("5/s", burst: nil)?.windowSeconds == 1)
        #expect(RateLimit("5/week", burst: nil) == nil)
    }

    @Test func theEndpointAppliesThePolicy() throws {
        let entries = try TokenFile.parse(
            lines(
                """
                app-token name=app senders=@example.org rate=2/min hosts=x.test recipients=1
                subject:"CN=client one,O=Test" name=cert
                """))
        let settings = GatewaySettings(tokens: entries, maxMessageBytes: 1000, maxRecipients: 3)
        let endpoint = GatewayEndpoint(
            settings: settings, lifecycle: Lifecycle(), bodyMemory: BodyMemory(limit: 1 << 20), metricsText: { "" })
        func raw(
            _ query: String, _ authorization: String? = "Bearer app-token", subject: String? = nil
        )
            -> (RequestPlan, RequestSummary)
        {
            var headers = [(name: "Host", value: "g.test"), (name: "Content-Type", value: "message/rfc822")]
            if let authorization { headers.append((name: "Authorization", value: authorization)) }
            return endpoint.plan(
                RequestHead(method: "POST", target: Array(("/v1/deliveries?" + query).utf8), headers: headers),
                certificateSubject: subject)
        }
        func status(_ plan: (RequestPlan, RequestSummary)) -> (Int, String?, [String: String]) {
            switch plan.0 {
            case .answer(let response):
                return (response.status, plan.1.error, Dictionary(response.headers, uniquingKeysWith: { a, _ in a }))
            case .readRaw(_, _, let access), .readJSON(_, let access), .readCompose(_, let access),
                .lookUpDelivery(_, let access):
                return (0, plan.1.token, Dictionary(access.rateFields, uniquingKeysWith: { a, _ in a }))
            }
        }
        let good = status(raw("sender=a%40example.org&recipient=u%40x.test"))
        #expect(good.0 == 0 && good.1 == "app" && good.2["RateLimit"] == "\"token\";r=1;t=30")
        let sender = status(raw("sender=a%40example.net&recipient=u%40x.test"))
        #expect(sender.0 == 403 && sender.1 == "sender_not_allowed" && sender.2["RateLimit"] == "\"token\";r=0;t=30")
        let limited = status(raw("sender=a%40example.org&recipient=u%40x.test"))
        #expect(limited.0 == 429 && limited.1 == "rate_limited")
        #expect(limited.2["Retry-After"] == "30" && limited.2["RateLimit-Policy"] == "\"token\";q=2;w=60")
        #expect(status(raw("sender=a%40example.org&recipient=u%40x.test", "Bearer wrong")).0 == 401)
        #expect(status(raw("sender=a%40example.org&recipient=u%40x.test", nil)).0 == 401)
        let byCertificate = status(
            raw("sender=a%40anything.test&recipient=u%40y.test", nil, subject: "CN=client one,O=Test"))
        #expect(byCertificate.0 == 0 && byCertificate.1 == "cert")
        #expect(status(raw("sender=&recipient=u%40y.test", nil, subject: "CN=someone else")).0 == 401)
    }

    @Test func clientCertificatesAreRequiredWhenACAIsGiven() {
        var settings = GatewaySettings()
        settings.tls = TLSSettings(certificateFile: "c", keyFile: "k", clientCAFile: "ca")
        let endpoint = GatewayEndpoint(
            settings: settings, lifecycle: Lifecycle(), bodyMemory: BodyMemory(limit: 0), metricsText: { "" })
        let head = RequestHead(method: "GET", target: Array("/metrics".utf8), headers: [("Host", "g")])
        guard case .answer(let refused) = endpoint.plan(head).0 else { Issue.record("not answered"); return }
        #expect(refused.status == 401)
        guard case .answer(let served) = endpoint.plan(head, certificateSubject: "CN=x").0 else {
            Issue.record("not answered")
            return
        }
        #expect(served.status == 200)
        let health = RequestHead(method: "GET", target: Array("/healthz".utf8), headers: [("Host", "g")])
        guard case .answer(let healthy) = endpoint.plan(health).0 else { Issue.record("not answered"); return }
        #expect(healthy.status == 200)
    }
}
