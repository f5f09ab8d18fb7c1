// A refused request: HTTP status, a stable machine-readable code and a
// message for people, answered as {"error": {"code": ..., "message": ...}}.
// Every refusal the gateway makes is listed here.

public struct APIError: Error, Sendable, Equatable {
    public let status: Int
    public let code: String
    public let message: String
    public var headers: [(name: String, value: String)] = []

    public init(_ status: Int, _ code: String, _ message: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var response: HTTPResponse {
        .json(
            status, .object([("error", .object([("code", .string(code)), ("message", .string(message))]))]),
            headers: headers)
    }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(400, code, message) }

    static let unauthorized = APIError(
        401, "unauthorized", "a valid bearer token is required",
        headers: [("WWW-Authenticate", "Bearer")])
    static let notFound = APIError(404, "not_found", "no such path")
    static func methodNotAllowed(_ allow: String) -> APIError {
        APIError(405, "method_not_allowed", "use \(allow)", headers: [("Allow", allow)])
    }
    static func tooLarge(_ limit: Int) -> APIError {
        APIError(413, "message_too_large", "the body is larger than the maximum of \(limit) bytes")
    }
    static let unsupportedMediaType = APIError(
        415, "unsupported_media_type",
        "send application/json or message/rfc822")
    static let overloaded = APIError(
        503, "overloaded", "too many deliveries are waiting; try again later",
        headers: [("Retry-After", "5")])
    static let shuttingDown = APIError(
        503, "shutting_down", "the gateway is shutting down",
        headers: [("Retry-After", "5")])
}
