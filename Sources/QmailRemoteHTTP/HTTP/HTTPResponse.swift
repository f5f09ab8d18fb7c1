// What the gateway answers: a status, headers and a body. Built by the pure
// endpoint code and queued by the libmicrohttpd adapter; no I/O here.

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(
        _ status: Int, _ value: JSONValue, headers: [(name: String, value: String)] = []
    ) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "application/json")] + headers,
            body: value.serializedBytes() + [10])
    }
}
