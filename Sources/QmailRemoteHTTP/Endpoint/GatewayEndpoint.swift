// The gateway's HTTP behaviour without the HTTP library, testable in memory:
// `screen` refuses a head whose framing, size or target cannot be trusted;
// `plan` routes, checks the token (or client certificate), its rate and
// the client's delivery options, and refuses what the head alone shows
// (404/405/401/429/400/415/413 from Content-Length, the raw envelope and
// what the token may do with it); `prepare` decodes the body and checks the
// token's policy; `answer` turns delivery results into the answer. Every
// refusal comes from APIError. No threads, no sockets and no store here.

import QmailRemote

/// What to do with a request after its head.
public enum RequestPlan: Sendable {
    case answer(HTTPResponse)
    /// Read a JSON body of at most `limit` bytes.
    case readJSON(limit: Int, access: Access)
    /// Read a message/rfc822 body of at most `limit` bytes for this envelope.
    case readRaw(DeliveryInput, limit: Int, access: Access)
    /// Read a POST /v1/messages JSON body of at most `limit` bytes.
    case readCompose(limit: Int, access: Access)
    /// Answer with a queued delivery's status, read from the store (off the library's thread).
    case lookUpDelivery(id: String, access: Access)
}

/// Who sent a request and what its answer must carry for that: the token
/// file's entry (nil without tokens), the rate-limit fields, and for a
/// submission the client's delivery options (Idempotency-Key, respond-async).
public struct Access: Sendable {
    public var policy: TokenPolicy?
    public var rateFields: [(name: String, value: String)] = []
    public var options = DeliveryOptions.immediate

    public init(policy: TokenPolicy? = nil) { self.policy = policy }

    public var tokenName: String? { policy?.name }

    /// Whose idempotency keys and queued deliveries a request sees: its
    /// token's (the hash the token file holds), else its client
    /// certificate's subject's; one shared scope without tokens.
    public var scope: StoreScope {
        switch policy?.credential {
        case .tokenHash(let digest): StoreScope(tokenHash: digest)
        case .certificateSubject(let subject): StoreScope(certificateSubject: subject)
        case nil: StoreScope.anonymous
        }
    }

    /// The envelope checks of the token's policy (sender, hosts, recipients).
    public func permit(_ input: DeliveryInput) throws(APIError) {
        try policy?.permitSender(input.sender)
        try policy?.permitDelivery(input)
    }

    /// For POST /v1/messages: each From: address must be among the token's senders.
    public func permitFrom(_ addresses: [[UInt8]]) throws(APIError) { try policy?.permitFrom(addresses) }

    /// The answer with the rate-limit fields this request's answers carry.
    public func carrying(_ response: HTTPResponse) -> HTTPResponse {
        var response = response
        response.headers += rateFields
        return response
    }
}

/// What to do once the body is in: every route that delivers ends in
/// `.deliver`, where idempotency and queuing are applied alike.
public enum PreparedRequest {
    case answer(HTTPResponse)
    /// The common point of every submitting route: idempotency, queuing,
    /// delivery and the answer all come after it (DeliveryIntake).
    case deliver(Submission, Access)
}

public final class GatewayEndpoint: Sendable {
    public let settings: GatewaySettings
    public let lifecycle: Lifecycle
    public let bodyMemory: BodyMemory
    public let tokens: BearerTokens
    let rates = RateLimiter()
    /// The right side of the Message-IDs POST /v1/messages writes.
    let messageIDHost: MessageIDHost
    private let metricsText: @Sendable () -> String

    public init(
        settings: GatewaySettings, lifecycle: Lifecycle, bodyMemory: BodyMemory,
        messageIDHost: MessageIDHost = MessageIDHost(fixed: "localhost"),
        metricsText: @escaping @Sendable () -> String
    ) {
        self.settings = settings
        self.lifecycle = lifecycle
        self.bodyMemory = bodyMemory
        self.messageIDHost = messageIDHost
        self.metricsText = metricsText
        tokens = BearerTokens(settings.tokens)
    }

    /// The checks that keep one request from being read as another: version,
    /// framing headers, Host, sizes, the target. Returns the declared body
    /// length and the parsed target.
    public func screen(
        _ head: RequestHead
    ) throws(APIError) -> (
        length: Int?, path: String, query: [(key: String, value: [UInt8])]
    ) {
        if head.requestLineBytes > settings.maxRequestLineBytes { throw .targetTooLong(settings.maxRequestLineBytes) }
        if head.headerBytes > settings.maxHeaderBytes { throw .headersTooLarge(settings.maxHeaderBytes) }
        let length = try FramingCheck.contentLength(of: head)
        let (path, query) = try RequestTarget.parse(head.target)
        return (length, path, query)
    }

    /// Who the request is: the entry of its bearer token, else of its
    /// verified client certificate's subject; nil without tokens. 401
    /// without a client certificate when they are required, or without a
    /// known token.
    public func authenticate(_ head: RequestHead, certificateSubject: String?) throws(APIError) -> TokenPolicy? {
        if settings.requiresClientCertificate && certificateSubject == nil { throw .clientCertificateRequired }
        if tokens.isEmpty { return nil }
        let authorization = head.value("Authorization")
        if let entry = tokens.entry(for: authorization) { return entry }
        if authorization == nil, let certificateSubject, let entry = tokens.entry(forSubject: certificateSubject) {
            return entry
        }
        throw .unauthorized
    }

    /// Every route that submits mail (POST /v1/deliveries, POST /v1/messages)
    /// goes through here once `authenticate` named its entry: not while
    /// draining (503), the client's Idempotency-Key and Prefer read (400
    /// invalid_idempotency_key), and one unit of the token's rate (429 with
    /// Retry-After and the RateLimit fields). The access's `carrying` then
    /// adds those fields to whatever is answered.
    public func admitSubmission(_ policy: TokenPolicy?, head: RequestHead) throws(APIError) -> Access {
        var access = Access(policy: policy)
        if lifecycle.isDraining { throw .shuttingDown }
        access.options = try DeliveryOptions(head: head)
        if let policy = access.policy, let rate = policy.rate {
            let decision = rates.take(policy.name, rate)
            access.rateFields = RateLimiter.fields(rate, decision)
            if !decision.allowed { throw .rateLimited(access.rateFields, retryAfter: decision.resetSeconds) }
        }
        return access
    }

    /// A submission that turned out to be a retry of one already counted (its
    /// key's stored answer replayed, or 409 while the first still runs) gets
    /// its unit of the token's rate back; the fields then say so.
    public func giveBackRate(_ access: Access) -> Access {
        guard let policy = access.policy, let rate = policy.rate, !access.rateFields.isEmpty else { return access }
        var access = access
        access.rateFields = RateLimiter.fields(rate, rates.giveBack(policy.name, rate))
        return access
    }

    /// `certificateSubject`: the subject of the connection's client
    /// certificate once verified against --tls-client-ca, else nil.
    public func plan(_ head: RequestHead, certificateSubject: String? = nil) -> (RequestPlan, RequestSummary) {
        var summary = RequestSummary()
        var access = Access()
        func refuse(_ error: APIError) -> (RequestPlan, RequestSummary) {
            summary.error = error.code
            return (.answer(access.carrying(error.response)), summary)
        }
        let screened: (length: Int?, path: String, query: [(key: String, value: [UInt8])])
        do { screened = try screen(head) } catch { return refuse(error) }
        switch screened.path {
        case "/healthz":
            guard head.method == "GET" || head.method == "HEAD" else { return refuse(.methodNotAllowed("GET, HEAD")) }
            if lifecycle.isDraining {
                return (.answer(.json(503, .object([("status", .string("shutting_down"))]))), summary)
            }
            return (.answer(.json(200, .object([("status", .string("ok"))]))), summary)
        case "/metrics":
            guard head.method == "GET" || head.method == "HEAD" else { return refuse(.methodNotAllowed("GET, HEAD")) }
            do { access.policy = try authenticate(head, certificateSubject: certificateSubject) } catch {
                return refuse(error)
            }
            summary.token = access.tokenName
            return (
                .answer(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                        body: Array(metricsText().utf8))), summary
            )
        case "/v1/deliveries", "/v1/messages":
            guard head.method == "POST" else { return refuse(.methodNotAllowed("POST")) }
        case let path where path.hasPrefix(Self.deliveryPathPrefix):
            let id = String(path.dropFirst(Self.deliveryPathPrefix.count))
            guard DeliveryID.isValid(id) else { return refuse(.notFound) }
            guard head.method == "GET" || head.method == "HEAD" else { return refuse(.methodNotAllowed("GET, HEAD")) }
            do { access.policy = try authenticate(head, certificateSubject: certificateSubject) } catch {
                return refuse(error)
            }
            summary.token = access.tokenName
            summary.deliveryID = id
            return (.lookUpDelivery(id: id, access: access), summary)
        default:
            return refuse(.notFound)
        }
        do { access.policy = try authenticate(head, certificateSubject: certificateSubject) } catch {
            return refuse(error)
        }
        summary.token = access.tokenName
        do { access = try admitSubmission(access.policy, head: head) } catch { return refuse(error) }

        let mediaType = head.value("Content-Type")?.split(separator: ";").first
            .map { FramingCheck.trimmed(String($0)).lowercased() }
        let limit: Int
        let composing = screened.path == "/v1/messages"
        switch mediaType {
        case "application/json": limit = settings.maxJSONBodyBytes
        case "message/rfc822" where !composing: limit = settings.maxMessageBytes
        default: return refuse(composing ? .composeNeedsJSON : .unsupportedMediaType)
        }
        if let length = screened.length, length > limit { return refuse(.tooLarge(limit)) }
        if mediaType == "application/json" {
            if !screened.query.isEmpty {
                return refuse(.badRequest("invalid_query", "a JSON delivery takes no query parameters"))
            }
            if composing { return (.readCompose(limit: limit, access: access), summary) }
            return (.readJSON(limit: limit, access: access), summary)
        }
        do throws(APIError) {
            let envelope = try RawQuery.envelope(screened.query)
            let input = try DeliveryInput(
                sender: envelope.sender, recipients: envelope.recipients,
                host: envelope.host, maxRecipients: settings.maxRecipients)
            summary.sender = String(decoding: input.sender, as: UTF8.self)
            summary.recipientCount = input.recipients.count
            try access.permit(input)
            return (.readRaw(input, limit: limit, access: access), summary)
        } catch {
            return refuse(error)
        }
    }

    /// Where a queued delivery's status is read: `/v1/deliveries/{id}`.
    public static let deliveryPathPrefix = "/v1/deliveries/"

    /// Where a body (or a decoded message) of at most `limit` bytes is collected.
    public func makeStore(limit: Int) -> SpooledBytes {
        SpooledBytes(
            limit: limit, threshold: settings.spoolThresholdBytes, budget: bodyMemory,
            spoolDirectory: settings.spoolDirectory)
    }

    /// The body is in: decode it (JSON) or take it as the message (raw). May
    /// take a while for a large JSON body; never on the library's thread.
    public func prepare(_ plan: RequestPlan, body: SpooledBytes?) -> (PreparedRequest, RequestSummary) {
        var summary = RequestSummary()
        var access = Access()
        do throws(APIError) {
            switch plan {
            case .answer(let response):
                return (.answer(response), summary)
            case .lookUpDelivery:
                return (.answer(APIError.deliveryNotFound.response), summary)
            case .readJSON(_, let given):
                access = given
                summary.token = access.tokenName
                guard let body else { throw .spoolFailed }
                if body.tooLarge { throw .tooLarge(body.limit) }
                guard let stored = body.finish() else { throw .spoolFailed }
                let payload = try JSONPayload.decode(stored, maxRecipients: settings.maxRecipients) {
                    makeStore(limit: settings.maxMessageBytes)
                }
                summary.sender = String(decoding: payload.sender, as: UTF8.self)
                summary.recipientCount = payload.recipientCount
                let input = try DeliveryInput(
                    sender: payload.sender, recipients: payload.recipients, recipientCount: payload.recipientCount,
                    host: payload.host, maxRecipients: settings.maxRecipients)
                try access.permit(input)
                return (.deliver(Submission(input, payload.message), access), summary)
            case .readRaw(let input, _, let given):
                access = given
                summary.token = access.tokenName
                summary.sender = String(decoding: input.sender, as: UTF8.self)
                summary.recipientCount = input.recipients.count
                guard let body else { throw .spoolFailed }
                if body.tooLarge { throw .tooLarge(body.limit) }
                guard let message = body.finish() else { throw .spoolFailed }
                return (.deliver(Submission(input, message), access), summary)
            case .readCompose(_, let given):
                access = given
                summary.token = access.tokenName
                return (.deliver(try compose(body, access: access, summary: &summary), access), summary)
            }
        } catch {
            summary.error = error.code
            return (.answer(access.carrying(error.response)), summary)
        }
    }

    /// The answer to the deliveries' results.
    public func answer(
        _ submission: Submission, results: [GroupResult], access: Access = Access()
    ) -> (HTTPResponse, RequestSummary) {
        let input = submission.input
        var summary = RequestSummary()
        summary.token = access.tokenName
        summary.sender = String(decoding: input.sender, as: UTF8.self)
        summary.recipientCount = input.recipients.count
        summary.hosts = results.map { String(decoding: $0.host, as: UTF8.self) }
        let answer = DeliveryAnswer(
            recipients: input.recipients, results: results, fields: submission.answerFields)
        summary.outcome = answer.outcome
        summary.recipientOutcomes = answer.recipientOutcomes
        return (access.carrying(answer.response), summary)
    }
}
