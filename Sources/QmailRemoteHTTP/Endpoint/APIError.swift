// The catalogue of refusals: every one the gateway makes, with its HTTP
// status, a stable machine-readable code and a message for people, answered
// as {"error": {"code": ..., "message": ...}}. Nothing else builds an error
// answer. (Answers libmicrohttpd makes itself are listed in the README.)

public struct APIError: Error, Sendable, Equatable {
    public let status: Int
    public let code: String
    public let message: String
    public var headers: [(name: String, value: String)] = []
    /// The connection is closed after this answer: the request's framing
    /// cannot be trusted, or the gateway wants the connection back.
    public var closesConnection = false

    init(
        _ status: Int, _ code: String, _ message: String, headers: [(name: String, value: String)] = [],
        closesConnection: Bool = false
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.closesConnection = closesConnection
    }

    public var response: HTTPResponse {
        var response = HTTPResponse.json(
            status, .object([("error", .object([("code", .string(code)), ("message", .string(message))]))]),
            headers: headers)
        response.closesConnection = closesConnection
        return response
    }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message
    }

    // MARK: - The request as HTTP (answered, then the connection is closed)

    static func invalidFraming(_ message: String) -> APIError {
        APIError(400, "invalid_framing", message, closesConnection: true)
    }
    static func unsupportedTransferEncoding(_ value: String) -> APIError {
        APIError(
            501, "unsupported_transfer_encoding",
            "Transfer-Encoding \(value.prefix(64)) is not supported; send Content-Length or chunked",
            closesConnection: true)
    }
    static func invalidHostHeader(_ message: String) -> APIError {
        APIError(400, "invalid_host_header", message, closesConnection: true)
    }
    static func invalidTarget(_ message: String) -> APIError {
        APIError(400, "invalid_target", message, closesConnection: true)
    }
    static func unsupportedVersion(_ version: String) -> APIError {
        APIError(
            505, "http_version_not_supported", "use HTTP/1.1 or HTTP/1.0, not \(version.prefix(16))",
            closesConnection: true)
    }
    static func targetTooLong(_ limit: Int) -> APIError {
        APIError(414, "uri_too_long", "the request line is longer than \(limit) bytes", closesConnection: true)
    }
    static func headersTooLarge(_ limit: Int) -> APIError {
        APIError(
            431, "header_fields_too_large", "the header fields are larger than \(limit) bytes", closesConnection: true)
    }
    static func requestTimeout(_ what: String) -> APIError {
        APIError(408, "request_timeout", what, closesConnection: true)
    }
    static let tooManyConnections = APIError(
        503, "too_many_connections", "too many connections are open (from this address or in all); try again later",
        headers: [("Retry-After", "5")], closesConnection: true)

    // MARK: - Routing and authentication

    static let unauthorized = APIError(
        401, "unauthorized", "a valid bearer token is required",
        headers: [("WWW-Authenticate", "Bearer")])
    static let clientCertificateRequired = APIError(
        401, "client_certificate_required", "this gateway takes requests only over TLS with a valid client certificate",
        headers: [("WWW-Authenticate", "Bearer")])
    static let notFound = APIError(404, "not_found", "no such path")
    static func methodNotAllowed(_ allow: String) -> APIError {
        APIError(405, "method_not_allowed", "use \(allow)", headers: [("Allow", allow)])
    }
    static let unsupportedMediaType = APIError(
        415, "unsupported_media_type",
        "send application/json or message/rfc822")
    static let composeNeedsJSON = APIError(
        415, "unsupported_media_type", "POST /v1/messages takes application/json only")

    // MARK: - The delivery request

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(400, code, message) }
    static func tooLarge(_ limit: Int) -> APIError {
        APIError(413, "message_too_large", "the body is larger than the maximum of \(limit) bytes")
    }
    /// 413 while the body is still arriving: answered at once, and the rest is not read.
    static func tooLargeWhileArriving(_ limit: Int) -> APIError {
        var error = tooLarge(limit)
        error.closesConnection = true
        return error
    }

    /// Plain HTTP sent to the HTTPS port: answered in plain text, then closed.
    static let httpsRequired = APIError(
        400, "https_required", "this port speaks HTTPS; send the request with TLS (https://)", closesConnection: true)

    // MARK: - What the token may do

    static func senderNotAllowed(_ what: String) -> APIError {
        APIError(403, "sender_not_allowed", "\(what) is not among the senders this token may use")
    }
    static func hostNotAllowed(_ host: String) -> APIError {
        APIError(403, "host_not_allowed", "this token may not deliver to \(host)")
    }
    static func tooManyRecipientsForToken(_ count: Int, _ limit: Int) -> APIError {
        APIError(
            403, "too_many_recipients_for_token",
            "\(count) recipients; this token may send to \(limit) at most a request")
    }
    static func rateLimited(_ fields: [(name: String, value: String)], retryAfter: Int) -> APIError {
        APIError(
            429, "rate_limited", "this token has sent as many requests as its rate allows; try again later",
            headers: [("Retry-After", "\(max(1, retryAfter))")] + fields)
    }

    // MARK: - The gateway cannot take it now

    static let overloaded = APIError(
        503, "overloaded", "too many deliveries are waiting; try again later",
        headers: [("Retry-After", "5")])
    static let shuttingDown = APIError(
        503, "shutting_down", "the gateway is shutting down",
        headers: [("Retry-After", "5")], closesConnection: true)
    static let spoolFailed = APIError(
        503, "spool_failed", "the message could not be stored; try again later",
        headers: [("Retry-After", "30")])
    /// The store (idempotency keys, the queue) cannot be used now: PostgreSQL
    /// away, SQLite busy, a full disk. Nothing was delivered or queued.
    static func storeUnavailable(_ error: StoreError) -> APIError {
        APIError(
            503, "store_unavailable", "the gateway's store cannot be used now (\(error.kind)); try again later",
            headers: [("Retry-After", "5")])
    }

    // MARK: - Idempotency keys and the queue

    static func invalidIdempotencyKey(_ message: String) -> APIError {
        APIError(400, "invalid_idempotency_key", message)
    }
    static let idempotencyKeyReused = APIError(
        422, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
    static let requestInProgress = APIError(
        409, "request_in_progress", "a request with this Idempotency-Key is still running; try again later",
        headers: [("Retry-After", "1")])
    static let deliveryNotFound = APIError(404, "not_found", "no such delivery")
}
