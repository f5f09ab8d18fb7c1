// The gateway's HTTP behaviour without the HTTP library: routing, bearer
// tokens, early refusals from the head alone (404/405/401/415/413, bad
// query), then the answer once the body is in. The libmicrohttpd adapter
// calls it; tests can call it directly.

import QmailRemote
import Synchronization

/// What the adapter knows of a request before its body.
public struct RequestHead: Sendable {
    public var method: String
    public var path: String
    /// Header lookup, case-insensitive.
    public var header: @Sendable (String) -> String?
    public var query: [(key: String, value: [UInt8])]

    public init(
        method: String, path: String, header: @escaping @Sendable (String) -> String?,
        query: [(key: String, value: [UInt8])]
    ) {
        self.method = method
        self.path = path
        self.header = header
        self.query = query
    }
}

/// What to do with a request after its head.
public enum RequestPlan {
    case answer(HTTPResponse)
    case readJSON(RequestBody)
    case readRaw(DeliveryInput, RequestBody)
}

/// What a request log line says beyond method, path, status and duration.
public struct RequestSummary: Sendable {
    public var sender: String?
    public var recipientCount: Int?
    public var hosts: [String] = []
    public var outcome: String?
    public var error: String?
}

public final class GatewayEndpoint: Sendable {
    public let settings: GatewaySettings
    public let service: DeliveryService
    private let draining = Atomic<Bool>(false)

    public init(settings: GatewaySettings, service: DeliveryService) {
        self.settings = settings
        self.service = service
    }

    public func startDraining() { draining.store(true, ordering: .sequentiallyConsistent) }
    public var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }

    public func plan(_ head: RequestHead) -> (RequestPlan, RequestSummary) {
        var summary = RequestSummary()
        func refuse(_ error: APIError) -> (RequestPlan, RequestSummary) {
            summary.error = error.code
            return (.answer(error.response), summary)
        }
        switch head.path {
        case "/healthz":
            guard head.method == "GET" || head.method == "HEAD" else { return refuse(.methodNotAllowed("GET, HEAD")) }
            if isDraining { return (.answer(.json(503, .object([("status", .string("shutting_down"))]))), summary) }
            return (.answer(.json(200, .object([("status", .string("ok"))]))), summary)
        case "/metrics":
            guard head.method == "GET" || head.method == "HEAD" else { return refuse(.methodNotAllowed("GET, HEAD")) }
            guard authorized(head) else { return refuse(.unauthorized) }
            return (
                .answer(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                        body: Array(service.metrics.prometheusText().utf8))), summary
            )
        case "/v1/deliveries":
            guard head.method == "POST" else { return refuse(.methodNotAllowed("POST")) }
        default:
            return refuse(.notFound)
        }
        guard authorized(head) else { return refuse(.unauthorized) }
        if isDraining { return refuse(.shuttingDown) }

        let mediaType = head.header("Content-Type")?.split(separator: ";").first
            .map { $0.trimmingCharacters(in: " \t").lowercased() }
        let limit: Int
        switch mediaType {
        case "application/json": limit = settings.maxJSONBodyBytes
        case "message/rfc822": limit = settings.maxMessageBytes
        default: return refuse(.unsupportedMediaType)
        }
        if let length = head.header("Content-Length").flatMap({ Int($0.trimmingCharacters(in: " \t")) }), length > limit
        {
            return refuse(.tooLarge(limit))
        }
        let body = RequestBody(
            limit: limit, spoolThreshold: mediaType == "application/json" ? Int.max : settings.spoolThresholdBytes,
            spoolDirectory: settings.spoolDirectory)
        if mediaType == "application/json" {
            if !head.query.isEmpty {
                return refuse(.badRequest("invalid_query", "a JSON delivery takes no query parameters"))
            }
            return (.readJSON(body), summary)
        }
        do throws(APIError) {
            let envelope = try RawQuery.envelope(head.query)
            let input = try DeliveryInput(
                sender: envelope.sender, recipients: envelope.recipients,
                host: envelope.host, maxRecipients: settings.maxRecipients)
            return (.readRaw(input, body), summary)
        } catch {
            return refuse(error)
        }
    }

    /// The answer once the whole body is in. Blocks for the SMTP deliveries.
    public func answer(_ plan: RequestPlan) -> (HTTPResponse, RequestSummary) {
        var summary = RequestSummary()
        do throws(APIError) {
            let input: DeliveryInput
            let message: StoredMessage
            switch plan {
            case .answer(let response):
                return (response, summary)
            case .readJSON(let body):
                if body.tooLarge { throw .tooLarge(body.limit) }
                let payload = try JSONPayload.decode(body.bytes ?? [], maxMessageBytes: settings.maxMessageBytes)
                input = try DeliveryInput(
                    sender: Array(payload.sender.utf8),
                    recipients: payload.recipients.map { Array($0.utf8) },
                    host: payload.host.map { Array($0.utf8) },
                    maxRecipients: settings.maxRecipients)
                message = .memory(payload.message)
            case .readRaw(let raw, let body):
                if body.tooLarge { throw .tooLarge(body.limit) }
                if body.failed {
                    throw APIError(
                        503, "spool_failed", "the message could not be stored; try again later",
                        headers: [("Retry-After", "30")])
                }
                input = raw
                message = body.message
            }
            summary.sender = String(decoding: input.sender, as: UTF8.self)
            summary.recipientCount = input.recipients.count
            let results = try service.deliver(input, message: message)
            summary.hosts = results.map { String(decoding: $0.host, as: UTF8.self) }
            let answer = DeliveryAnswer(recipients: input.recipients, results: results)
            service.metrics.recipientsFinished(answer.recipientOutcomes)
            summary.outcome = answer.outcome.rawValue
            return (answer.response, summary)
        } catch {
            summary.error = error.code
            return (error.response, summary)
        }
    }

    /// Constant-time comparison against every token.
    private func authorized(_ head: RequestHead) -> Bool {
        if settings.tokens.isEmpty { return true }
        guard let value = head.header("Authorization") else { return false }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let offered = Array(parts[1].utf8)
        var match = false
        for token in settings.tokens {
            let expected = Array(token.utf8)
            var difference = UInt8(expected.count == offered.count ? 0 : 1)
            for index in 0..<expected.count {
                difference |= expected[index] ^ (index < offered.count ? offered[index] : 0)
            }
            match = match || difference == 0
        }
        return match
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var text = self[...]
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String { self[...].trimmingCharacters(in: set) }
}
