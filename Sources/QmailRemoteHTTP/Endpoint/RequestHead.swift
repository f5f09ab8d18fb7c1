// What is known of a request once its head is in: method, the target exactly
// as sent, version, every header line in order, and the sizes of the request
// line and of the header section. Made from libmicrohttpd's parse or from our
// own (Front/HeadParser); the checks read only this.

public struct RequestHead: Sendable {
    public var method: String
    /// The request-target as sent, before any percent-decoding.
    public var target: [UInt8]
    public var version: String
    /// Every header line in order, names as sent.
    public var headers: [(name: String, value: String)]
    /// Bytes of the request line, without its line end.
    public var requestLineBytes: Int
    /// Bytes of the header lines after the request line, line ends included.
    public var headerBytes: Int

    public init(
        method: String, target: [UInt8], version: String = "HTTP/1.1",
        headers: [(name: String, value: String)] = [], requestLineBytes: Int? = nil, headerBytes: Int = 0
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.requestLineBytes = requestLineBytes ?? (method.utf8.count + target.count + version.utf8.count + 2)
        self.headerBytes = headerBytes
    }

    /// Every value of a header, names compared case-insensitively.
    public func values(_ name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.name.lowercased() == wanted }.map(\.value)
    }

    /// The first value of a header.
    public func value(_ name: String) -> String? { values(name).first }
}
