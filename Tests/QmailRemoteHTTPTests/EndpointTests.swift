// GatewayEndpoint in memory: every refusal the head alone shows (framing,
// sizes, target, routing, token, media type, length, raw envelope, drain),
// the body's preparation, and the answer's shape; no server, no socket.

import QmailRemote
import QmailSupport
import Testing

@testable import QmailRemoteHTTP

@Suite struct EndpointTests {
    let lifecycle = Lifecycle()

    func endpoint(tokens: [String] = [], spoolDirectory: String = "/tmp") -> GatewayEndpoint {
        var settings = GatewaySettings(
            tokens: tokens.enumerated().map { TokenPolicy(token: $1, name: "t\($0)") }, maxMessageBytes: 1000,
            maxRecipients: 3)
        settings.spoolDirectory = spoolDirectory
        settings.spoolThresholdBytes = 100
        return GatewayEndpoint(
            settings: settings, lifecycle: lifecycle, bodyMemory: BodyMemory(limit: 1 << 20),
            metricsText: { "metrics\n" })
    }

    func head(
        _ method: String = "POST", _ target: String = "/v1/deliveries", version: String = "HTTP/1.1",
        _ headers: [(String, String)] = [("Content-Type", "application/json")], host: Bool = true
    ) -> RequestHead {
        RequestHead(
            method: method, target: Array(target.utf8), version: version,
            headers: (host ? [("Host", "gateway.test")] : []) + headers.map { (name: $0.0, value: $0.1) })
    }

    func head(_ headers: [(String, String)], version: String = "HTTP/1.1") -> RequestHead {
        head("POST", "/v1/deliveries", version: version, headers)
    }

    /// The status and error code of a plan that answers at once.
    func refusal(_ plan: (RequestPlan, RequestSummary)) -> (Int, String?, Bool)? {
        guard case .answer(let response) = plan.0 else { return nil }
        return (response.status, plan.1.error, response.closesConnection)
    }

    @Test func framingThatCannotBeTrustedIsRefusedAndCloses() {
        let cases: [([(String, String)], Int, String)] = [
            ([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], 400, "invalid_framing"),
            ([("Content-Length", "5"), ("Content-Length", "5")], 400, "invalid_framing"),
            ([("Content-Length", "5"), ("Content-Length", "6")], 400, "invalid_framing"),
            ([("Content-Length", "-1")], 400, "invalid_framing"),
            ([("Content-Length", "5 5")], 400, "invalid_framing"),
            ([("Content-Length", "0x10")], 400, "invalid_framing"),
            ([("Content-Length", "")], 400, "invalid_framing"),
            ([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], 400, "invalid_framing"),
            ([("Transfer-Encoding", "xchunked")], 501, "unsupported_transfer_encoding"),
            ([("Transfer-Encoding", "chunked, identity")], 501, "unsupported_transfer_encoding"),
            ([("Transfer-Encoding", "gzip, chunked")], 501, "unsupported_transfer_encoding"),
            ([("Host", "second.test")], 400, "invalid_host_header"),
            ([("Host", "bad host")], 400, "invalid_host_header"),
        ]
        for (headers, status, code) in cases {
            let result = refusal(endpoint().plan(head(headers + [("Content-Type", "application/json")])))
            #expect(result?.0 == status && result?.1 == code && result?.2 == true, "\(headers)")
        }
        #expect(refusal(endpoint().plan(head(host: false)))! == (400, "invalid_host_header", true))
        #expect(refusal(endpoint().plan(head(version: "HTTP/2.0")))! == (505, "http_version_not_supported", true))
        let chunked10 = head(
            version: "HTTP/1.0", [("Transfer-Encoding", "chunked"), ("Content-Type", "application/json")])
        #expect(refusal(endpoint().plan(chunked10))?.1 == "invalid_framing")
    }

    @Test func goodFramingIsRead() {
        let length = endpoint().plan(head([("Content-Length", " 12 "), ("Content-Type", "application/json")]))
        guard case .readJSON(let limit, _) = length.0 else { Issue.record("not read"); return }
        #expect(limit == 1000 * 2 + 65_536)
        let chunked = endpoint().plan(head([("Transfer-Encoding", "Chunked"), ("Content-Type", "application/json")]))
        guard case .readJSON = chunked.0 else { Issue.record("not read"); return }
        let http10 = endpoint().plan(head("GET", "/healthz", version: "HTTP/1.0", [], host: false))
        guard case .answer(let response) = http10.0 else { Issue.record("not answered"); return }
        #expect(response.status == 200)
    }

    @Test func sizesAndTarget() {
        let e = endpoint()
        var long = head("POST", "/v1/deliveries?" + String(repeating: "a", count: e.settings.maxRequestLineBytes))
        #expect(refusal(e.plan(long))! == (414, "uri_too_long", true))
        long = head()
        long.headerBytes = e.settings.maxHeaderBytes + 1
        #expect(refusal(e.plan(long))! == (431, "header_fields_too_large", true))
        #expect(refusal(e.plan(head("GET", "/healthz%00/../metrics", [])))! == (400, "invalid_target", true))
        #expect(refusal(e.plan(head("POST", "/v1/deliveries%00xyz")))! == (400, "invalid_target", true))
    }

    @Test func routingAndMethods() {
        let e = endpoint()
        for path in ["/", "/v1", "/v1/deliveries/", "/v2/deliveries", "/healthz/x", "/v1/../healthz"] {
            #expect(refusal(e.plan(head("POST", path)))! == (404, "not_found", false))
        }
        for method in ["GET", "PUT", "DELETE", "PATCH"] {
            let plan = e.plan(head(method, "/v1/deliveries"))
            #expect(refusal(plan)! == (405, "method_not_allowed", false))
            guard case .answer(let response) = plan.0 else { continue }
            #expect(response.headers.contains { $0 == ("Allow", "POST") })
        }
        #expect(refusal(e.plan(head("POST", "/healthz")))! == (405, "method_not_allowed", false))
        #expect(refusal(e.plan(head("POST", "/metrics")))! == (405, "method_not_allowed", false))
        guard case .answer(let metrics) = e.plan(head("GET", "/metrics", [])).0 else { Issue.record("metrics"); return }
        #expect(metrics.status == 200 && metrics.body == Array("metrics\n".utf8))
    }

    @Test func bearerTokens() {
        let e = endpoint(tokens: ["right"])
        for authorization in [nil, "Bearer wrong", "Basic cmlnaHQ=", "Bearer", "Bearer right extra", "Bearer righ"] {
            let headers = [("Content-Type", "application/json")] + (authorization.map { [("Authorization", $0)] } ?? [])
            let plan = e.plan(head(headers))
            #expect(refusal(plan)! == (401, "unauthorized", false), "\(authorization ?? "none")")
        }
        guard
            case .readJSON = e.plan(head([("Content-Type", "application/json"), ("Authorization", "Bearer right")])).0
        else { Issue.record("not admitted"); return }
        #expect(refusal(e.plan(head("GET", "/metrics", [])))! == (401, "unauthorized", false))
        guard case .answer(let health) = e.plan(head("GET", "/healthz", [])).0 else { Issue.record("health"); return }
        #expect(health.status == 200)
    }

    @Test func mediaTypesLengthsAndQueries() {
        let e = endpoint()
        for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            #expect(refusal(e.plan(head([("Content-Type", type)])))! == (415, "unsupported_media_type", false))
        }
        #expect(refusal(e.plan(head([])))! == (415, "unsupported_media_type", false))
        guard case .readJSON = e.plan(head([("Content-Type", "Application/JSON; charset=utf-8")])).0 else {
            Issue.record("not read"); return
        }
        let tooLong = head([("Content-Type", "message/rfc822"), ("Content-Length", "1001")])
        #expect(refusal(e.plan(tooLong))! == (413, "message_too_large", false))
        let huge = head([("Content-Type", "application/json"), ("Content-Length", "99999999999999999999999")])
        #expect(refusal(e.plan(huge))?.0 == 413)
        #expect(refusal(e.plan(head("POST", "/v1/deliveries?sender=a")))! == (400, "invalid_query", false))
    }

    @Test func rawEnvelopeFromTheQuery() {
        let e = endpoint()
        func raw(_ query: String) -> (RequestPlan, RequestSummary) {
            e.plan(head("POST", "/v1/deliveries?" + query, [("Content-Type", "message/rfc822")]))
        }
        let good = raw("sender=&recipient=u%40x.test&recipient=v%40x.test&host=x.test")
        guard case .readRaw(let input, let limit, _) = good.0 else { Issue.record("not read"); return }
        #expect(input.recipients.count == 2 && input.host == Array("x.test".utf8) && limit == 1000)
        let cases = [
            ("sender=a%0D%0A%40b.test&recipient=u%40x.test", "invalid_sender"),
            ("sender=&recipient=u%40x.test%0ADATA", "invalid_recipient"),
            ("sender=&recipient=%40&host=x.test", "invalid_recipient"),
            ("sender=&recipient=&host=x.test", "invalid_recipient"),
            ("sender=&recipient=u%40x.test&host=x.test%0D", "invalid_host"),
            ("recipient=u%40x.test", "missing_field"),
            ("sender=a%40b&sender=c%40d&recipient=u%40x.test", "invalid_query"),
            ("sender=&recipient=u%40x.test&bcc=v%40x.test", "invalid_query"),
            ("sender=a%40b.test", "no_recipients"),
            (
                "sender=&recipient=a%40x.test&recipient=b%40x.test&recipient=c%40x.test&recipient=d%40x.test",
                "too_many_recipients"
            ),
        ]
        for (query, code) in cases { #expect(refusal(raw(query))?.1 == code, "\(query)") }
    }

    @Test func drainingRefusesNewDeliveriesAndSaysSoOnHealth() {
        let draining = Lifecycle()
        draining.beginDraining()
        let e = GatewayEndpoint(
            settings: GatewaySettings(), lifecycle: draining, bodyMemory: BodyMemory(limit: 0), metricsText: { "" })
        #expect(refusal(e.plan(head()))! == (503, "shutting_down", true))
        guard case .answer(let health) = e.plan(head("GET", "/healthz", [])).0 else { Issue.record("health"); return }
        #expect(
            health.status == 503 && String(decoding: health.body, as: UTF8.self) == "{\"status\":\"shutting_down\"}\n")
    }

    func prepared(_ e: GatewayEndpoint, _ plan: RequestPlan, _ body: String) -> (PreparedRequest, RequestSummary) {
        var limit = 0
        switch plan {
        case .readJSON(let l, _), .readRaw(_, let l, _), .readCompose(let l, _): limit = l
        case .answer, .lookUpDelivery: break
        }
        let store = e.makeStore(limit: limit)
        store.append(Array(body.utf8))
        return e.prepare(plan, body: store)
    }

    @Test func prepareDecodesOrRefuses() {
        let e = endpoint()
        let ok = prepared(
            e, .readJSON(limit: 3000, access: Access()),
            #"{"sender":"a@b.test","recipients":["u@x.test"],"message":"hi\n"}"#)
        guard case .deliver(let submission, _) = ok.0 else { Issue.record("not delivered"); return }
        let (input, message) = (submission.input, submission.message)
        #expect(
            submission.messageID == nil && input.recipients == [Array("u@x.test".utf8)]
                && message.bytes() == Array("hi\n".utf8))
        #expect(ok.1.sender == "a@b.test" && ok.1.recipientCount == 1)

        let tooLarge = prepared(e, .readJSON(limit: 10, access: Access()), #"{"sender":"a@b.test"}"#)
        guard case .answer(let response) = tooLarge.0 else { Issue.record("not refused"); return }
        #expect(response.status == 413 && tooLarge.1.error == "message_too_large")

        let decodedTooLarge = prepared(
            e, .readJSON(limit: 3000, access: Access()),
            #"{"sender":"","recipients":["u@x.test"],"message":""# + String(repeating: "x", count: 1001) + "\"}")
        guard case .answer(let large) = decodedTooLarge.0 else { Issue.record("not refused"); return }
        #expect(large.status == 413)

        let bad = prepared(
            e, .readJSON(limit: 3000, access: Access()), #"{"sender":"","recipients":["nodomain"],"message":"x"}"#)
        #expect(bad.1.error == "invalid_recipient")
    }

    @Test func rawBodyIsTheMessage() throws {
        let e = endpoint()
        let input = try DeliveryInput(sender: [], recipients: [Array("u@x.test".utf8)], host: nil, maxRecipients: 3)
        let result = prepared(
            e, .readRaw(input, limit: 1000, access: Access()), String(repeating: "line\n", count: 100))
        guard case .deliver(let submission, _) = result.0 else { Issue.record("not delivered"); return }
        let message = submission.message
        #expect(message.isSpooled && message.bytes().count == 500)
        #expect(message.facts.size == 600)
    }

    @Test func unusableSpoolIs503() throws {
        let e = endpoint(spoolDirectory: "/nonexistent/spool")
        let input = try DeliveryInput(sender: [], recipients: [Array("u@x.test".utf8)], host: nil, maxRecipients: 3)
        let result = prepared(e, .readRaw(input, limit: 1000, access: Access()), String(repeating: "x", count: 500))
        guard case .answer(let response) = result.0 else { Issue.record("not refused"); return }
        #expect(response.status == 503 && result.1.error == "spool_failed")
        #expect(response.headers.contains { $0.name == "Retry-After" })
    }

    @Test func answerShapes() throws {
        let e = endpoint()
        let input = try DeliveryInput(
            sender: Array("a@b.test".utf8), recipients: [Array("u@x.test".utf8)], host: nil, maxRecipients: 3)
        let delivered = GroupResult(
            host: Array("x.test".utf8), recipientIndices: [0],
            report: DeliveryReport(
                recipientReports: [Report(.recipientAccepted, [])], messageReport: Report(.messageAccepted, "ok\n")))
        let (response, summary) = e.answer(Submission(input, StoredMessage([])), results: [delivered])
        #expect(response.status == 200 && summary.outcome == .delivered && summary.hosts == ["x.test"])
        #expect(
            String(decoding: response.body, as: UTF8.self)
                == #"{"outcome":"delivered","possible_duplicate":false,"recipients":[{"address":"u@x.test","outcome":"delivered","host":"x.test","report":"r","text":""}],"deliveries":[{"host":"x.test","recipients":["u@x.test"],"reports":[{"letter":"r","text":""},{"letter":"K","text":"ok\n"}],"tls":null,"reused":false,"possible_duplicate":false,"dkim":[]}]}"#
                + "\n")
    }

    @Test func everyRefusalIsJSONWithItsCode() {
        let errors: [APIError] = [
            .invalidFraming("x"), .unsupportedTransferEncoding("gzip"), .invalidHostHeader("x"), .invalidTarget("x"),
            .unsupportedVersion("HTTP/2.0"), .targetTooLong(1), .headersTooLarge(1), .requestTimeout("x"),
            .tooManyConnections, .unauthorized, .notFound, .methodNotAllowed("GET"), .unsupportedMediaType,
            .badRequest("invalid_field", "x"), .tooLarge(1), .tooLargeWhileArriving(1), .overloaded, .shuttingDown,
            .spoolFailed,
        ]
        for error in errors {
            let response = error.response
            #expect(response.status == error.status)
            #expect(response.headers.first! == ("Content-Type", "application/json"))
            let body = String(decoding: response.body, as: UTF8.self)
            #expect(body.hasPrefix(#"{"error":{"code":"\#(error.code)","message":""#))
            let wire = String(decoding: response.wireBytes(requestID: "0123456789abcdef"), as: UTF8.self)
            #expect(wire.hasPrefix("HTTP/1.1 \(error.status) "))
            #expect(wire.hasSuffix("\r\nConnection: close\r\nX-Request-Id: 0123456789abcdef\r\n\r\n" + body))
        }
    }
}

// The queue's routes and headers in memory: GET /v1/deliveries/{id} is looked
// up (with the token's scope) off the library's thread; POST carries the
// Idempotency-Key and Prefer into the body's plan, a bad key refused first;
// a retry answered from its key gets its unit of the token's rate back.
@Suite struct QueueEndpointTests {
    func endpoint(tokens: [String] = [], policies: [TokenPolicy] = []) -> GatewayEndpoint {
        GatewayEndpoint(
            settings: GatewaySettings(
                tokens: tokens.enumerated().map { TokenPolicy(token: $1, name: "t\($0)") } + policies),
            lifecycle: Lifecycle(), bodyMemory: BodyMemory(limit: 1 << 20), metricsText: { "" })
    }

    func head(_ method: String, _ target: String, _ headers: [(String, String)] = []) -> RequestHead {
        RequestHead(
            method: method, target: Array(target.utf8),
            headers: [(name: "Host", value: "gateway.test")] + headers.map { (name: $0.0, value: $0.1) })
    }

    func refusal(_ plan: (RequestPlan, RequestSummary)) -> (Int, String?)? {
        guard case .answer(let response) = plan.0 else { return nil }
        return (response.status, plan.1.error)
    }

    @Test func statusIsLookedUpWithTheTokensScope() {
        let id = "0123456789abcdef0123456789abcdef"
        let e = endpoint(tokens: ["secret"])
        let plan = e.plan(head("GET", "/v1/deliveries/" + id, [("Authorization", "Bearer secret")]))
        guard case .lookUpDelivery(let found, let access) = plan.0 else { Issue.record("not looked up"); return }
        #expect(found == id && access.scope == StoreScope(token: Array("secret".utf8)) && plan.1.token == "t0")
        guard case .lookUpDelivery(_, let anonymous) = endpoint().plan(head("HEAD", "/v1/deliveries/" + id)).0 else {
            Issue.record("HEAD not looked up"); return
        }
        #expect(anonymous.scope == .anonymous)
        #expect(refusal(e.plan(head("GET", "/v1/deliveries/" + id)))! == (401, "unauthorized"))
        #expect(refusal(e.plan(head("POST", "/v1/deliveries/" + id)))! == (405, "method_not_allowed"))
        #expect(refusal(e.plan(head("DELETE", "/v1/deliveries/" + id)))! == (405, "method_not_allowed"))
        for bad in ["", "a/b", "..", "x%2Fy", String(repeating: "a", count: 65), "a.b"] {
            #expect(refusal(e.plan(head("GET", "/v1/deliveries/" + bad)))?.0 == 404, "\(bad)")
        }
    }

    @Test func optionsTravelWithTheBodysPlan() {
        let e = endpoint(tokens: ["secret"])
        let json = e.plan(
            head(
                "POST", "/v1/deliveries",
                [
                    ("Content-Type", "application/json"), ("Authorization", "Bearer secret"), ("Idempotency-Key", "k1"),
                    ("Prefer", "respond-async"),
                ]))
        guard case .readJSON(_, let access) = json.0 else { Issue.record("not read"); return }
        #expect(access.options == DeliveryOptions(idempotencyKey: "k1", respondAsync: true))
        #expect(access.scope == StoreScope(token: Array("secret".utf8)))
        let raw = e.plan(
            head(
                "POST", "/v1/deliveries?sender=&recipient=u%40x.test",
                [("Content-Type", "message/rfc822"), ("Authorization", "Bearer secret")]))
        guard case .readRaw(_, _, let plain) = raw.0 else { Issue.record("not read"); return }
        #expect(plain.options == .immediate)
    }

    @Test func aRetryAnsweredFromItsKeyGivesItsRateUnitBack() throws {
        let limited = TokenPolicy(
            credential: .tokenHash(SHA256.digest(Array("limited".utf8))), name: "limited",
            rate: try #require(RateLimit("2/h", burst: nil)))
        let e = endpoint(policies: [limited])
        let post = head(
            "POST", "/v1/deliveries",
            [("Content-Type", "application/json"), ("Authorization", "Bearer limited"), ("Idempotency-Key", "k")])
        guard case .readJSON(_, let first) = e.plan(post).0 else { Issue.record("not read"); return }
        #expect(first.rateFields.last?.value.hasPrefix("\"token\";r=1;") == true)
        // The retry takes the last unit, then (a replay) gives it back: a third request still gets in.
        guard case .readJSON(_, let retry) = e.plan(post).0 else { Issue.record("not read"); return }
        #expect(retry.rateFields.last?.value.hasPrefix("\"token\";r=0;") == true)
        let returned = e.giveBackRate(retry)
        #expect(returned.rateFields.last?.value.hasPrefix("\"token\";r=1;") == true)
        guard case .readJSON = e.plan(post).0 else { Issue.record("the given-back unit was not there"); return }
        #expect(refusal(e.plan(post))! == (429, "rate_limited"))
        // Nothing to give back for a token without a rate.
        #expect(e.giveBackRate(Access()).rateFields.isEmpty)
    }

    @Test func aBadKeyIsRefusedBeforeTheBodyButAfterTheToken() {
        let e = endpoint(tokens: ["secret"])
        let bad = [("Content-Type", "application/json"), ("Idempotency-Key", "")]
        #expect(refusal(e.plan(head("POST", "/v1/deliveries", bad)))! == (401, "unauthorized"))
        #expect(
            refusal(e.plan(head("POST", "/v1/deliveries", bad + [("Authorization", "Bearer secret")])))!
                == (400, "invalid_idempotency_key"))
    }

    @Test func theQueuesRefusalsAreInTheCatalogue() {
        let errors: [(APIError, Int, String)] = [
            (.invalidIdempotencyKey("x"), 400, "invalid_idempotency_key"),
            (.idempotencyKeyReused, 422, "idempotency_key_reused"),
            (.requestInProgress, 409, "request_in_progress"),
            (.storeUnavailable(.unavailable("down")), 503, "store_unavailable"),
            (.deliveryNotFound, 404, "not_found"),
        ]
        for (error, status, code) in errors {
            #expect(error.status == status && error.code == code)
            #expect(error.response.body.starts(with: Array(#"{"error":{"code":"\#(code)""#.utf8)))
        }
        #expect(APIError.requestInProgress.headers.contains { $0.name == "Retry-After" })
        #expect(APIError.storeUnavailable(.diskFull("x")).headers.contains { $0.name == "Retry-After" })
        #expect(APIError.storeUnavailable(.diskFull("/secret/path")).message.contains("disk_full"))
        #expect(!APIError.storeUnavailable(.diskFull("/secret/path")).message.contains("/secret"))
    }
}
