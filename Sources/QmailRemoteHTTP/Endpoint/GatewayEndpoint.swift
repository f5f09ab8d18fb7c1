// The gateway's HTTP behaviour without the HTTP library, testable in memory:
// `screen` refuses a head whose framing, size or target cannot be trusted;
// `plan` routes, checks the token and refuses what the head alone shows
// (404/405/401/415/413 from Content-Length, the raw envelope, the
// Idempotency-Key); `prepare` decodes the body; `answer` turns delivery
// results into the answer. Every refusal comes from APIError. No threads,
// no sockets and no store here.

import QmailRemote

/// What to do with a request after its head.
public enum RequestPlan: Sendable {
    case answer(HTTPResponse)
    /// Read a JSON body of at most `limit` bytes.
    case readJSON(limit: Int, DeliveryOptions)
    /// Read a message/rfc822 body of at most `limit` bytes for this envelope.
    case readRaw(DeliveryInput, limit: Int, DeliveryOptions)
    /// Answer with a queued delivery's status, read from the store (off the library's thread).
    case lookUpDelivery(id: String, scope: StoreScope)
}

/// What to do once the body is in: every route that delivers ends in
/// `.deliver`, where idempotency and queuing are applied alike.
public enum PreparedRequest {
    case answer(HTTPResponse)
    case deliver(DeliveryInput, StoredMessage, DeliveryOptions)
}

public final class GatewayEndpoint: Sendable {
    public let settings: GatewaySettings
    public let lifecycle: Lifecycle
    public let bodyMemory: BodyMemory
    private let tokens: BearerTokens
    private let metricsText: @Sendable () -> String

    public init(
        settings: GatewaySettings, lifecycle: Lifecycle, bodyMemory: BodyMemory,
        metricsText: @escaping @Sendable () -> String
    ) {
        self.settings = settings
        self.lifecycle = lifecycle
        self.bodyMemory = bodyMemory
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

    public func plan(_ head: RequestHead) -> (RequestPlan, RequestSummary) {
        var summary = RequestSummary()
        func refuse(_ error: APIError) -> (RequestPlan, RequestSummary) {
            summary.error = error.code
            return (.answer(error.response), summary)
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
            guard tokens.admit(head.value("Authorization")) else { return refuse(.unauthorized) }
            return (
                .answer(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                        body: Array(metricsText().utf8))), summary
            )
        case "/v1/deliveries":
            guard head.method == "POST" else { return refuse(.methodNotAllowed("POST")) }
        case let path where path.hasPrefix(Self.deliveryPathPrefix):
            let id = String(path.dropFirst(Self.deliveryPathPrefix.count))
            guard DeliveryID.isValid(id) else { return refuse(.notFound) }
            guard head.method == "GET" || head.method == "HEAD" else { return refuse(.methodNotAllowed("GET, HEAD")) }
            guard tokens.admit(head.value("Authorization")) else { return refuse(.unauthorized) }
            let scope =
                tokens.isEmpty
                ? StoreScope.anonymous : StoreScope(token: BearerTokens.offered(in: head.value("Authorization")) ?? [])
            return (.lookUpDelivery(id: id, scope: scope), summary)
        default:
            return refuse(.notFound)
        }
        guard tokens.admit(head.value("Authorization")) else { return refuse(.unauthorized) }
        if lifecycle.isDraining { return refuse(.shuttingDown) }

        let mediaType = head.value("Content-Type")?.split(separator: ";").first
            .map { FramingCheck.trimmed(String($0)).lowercased() }
        let limit: Int
        switch mediaType {
        case "application/json": limit = settings.maxJSONBodyBytes
        case "message/rfc822": limit = settings.maxMessageBytes
        default: return refuse(.unsupportedMediaType)
        }
        if let length = screened.length, length > limit { return refuse(.tooLarge(limit)) }
        let options: DeliveryOptions
        do { options = try DeliveryOptions(head: head, tokensConfigured: !tokens.isEmpty) } catch {
            return refuse(error)
        }
        if mediaType == "application/json" {
            if !screened.query.isEmpty {
                return refuse(.badRequest("invalid_query", "a JSON delivery takes no query parameters"))
            }
            return (.readJSON(limit: limit, options), summary)
        }
        do throws(APIError) {
            let envelope = try RawQuery.envelope(screened.query)
            let input = try DeliveryInput(
                sender: envelope.sender, recipients: envelope.recipients,
                host: envelope.host, maxRecipients: settings.maxRecipients)
            summary.sender = String(decoding: input.sender, as: UTF8.self)
            summary.recipientCount = input.recipients.count
            return (.readRaw(input, limit: limit, options), summary)
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
        do throws(APIError) {
            switch plan {
            case .answer(let response):
                return (.answer(response), summary)
            case .lookUpDelivery:
                return (.answer(APIError.deliveryNotFound.response), summary)
            case .readJSON(_, let options):
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
                return (.deliver(input, payload.message, options), summary)
            case .readRaw(let input, _, let options):
                summary.sender = String(decoding: input.sender, as: UTF8.self)
                summary.recipientCount = input.recipients.count
                guard let body else { throw .spoolFailed }
                if body.tooLarge { throw .tooLarge(body.limit) }
                guard let message = body.finish() else { throw .spoolFailed }
                return (.deliver(input, message, options), summary)
            }
        } catch {
            summary.error = error.code
            return (.answer(error.response), summary)
        }
    }

    /// The answer to the deliveries' results.
    public func answer(_ input: DeliveryInput, results: [GroupResult]) -> (HTTPResponse, RequestSummary) {
        var summary = RequestSummary()
        summary.sender = String(decoding: input.sender, as: UTF8.self)
        summary.recipientCount = input.recipients.count
        summary.hosts = results.map { String(decoding: $0.host, as: UTF8.self) }
        let answer = DeliveryAnswer(recipients: input.recipients, results: results)
        summary.outcome = answer.outcome
        summary.recipientOutcomes = answer.recipientOutcomes
        return (answer.response, summary)
    }
}
