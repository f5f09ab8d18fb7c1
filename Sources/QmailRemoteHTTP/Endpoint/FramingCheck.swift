// Whether a request's framing can be trusted (RFC 9112 sections 3.2 and 6):
// HTTP/1.1 or 1.0, at most one Content-Length and only digits in it, at most
// one Transfer-Encoding and then exactly "chunked" and no Content-Length, one
// Host for HTTP/1.1. Anything else is refused and the connection closed, so
// that no bytes of one request are ever read as another.

public enum FramingCheck {
    /// The declared body length (nil: none, or chunked), or the refusal.
    /// A length too long to count is Int.max, for the 413 of the size check.
    public static func contentLength(of head: RequestHead) throws(APIError) -> Int? {
        guard head.version == "HTTP/1.1" || head.version == "HTTP/1.0" else {
            throw .unsupportedVersion(head.version)
        }
        let hosts = head.values("Host")
        if head.version == "HTTP/1.1" && hosts.count != 1 {
            throw .invalidHostHeader("an HTTP/1.1 request needs exactly one Host header, not \(hosts.count)")
        }
        if hosts.count > 1 { throw .invalidHostHeader("Host is given more than once") }
        if let host = hosts.first, host.utf8.contains(where: { $0 <= 32 || $0 == 127 || $0 == UInt8(ascii: "/") }) {
            throw .invalidHostHeader("the Host header is not a host name and port")
        }

        let lengths = head.values("Content-Length")
        let encodings = head.values("Transfer-Encoding")
        if lengths.count > 1 { throw .invalidFraming("Content-Length is given more than once") }
        if encodings.count > 1 { throw .invalidFraming("Transfer-Encoding is given more than once") }
        if let encoding = encodings.first {
            if !lengths.isEmpty { throw .invalidFraming("Content-Length and Transfer-Encoding are both given") }
            if head.version == "HTTP/1.0" { throw .invalidFraming("HTTP/1.0 has no Transfer-Encoding") }
            guard trimmed(encoding).lowercased() == "chunked" else { throw .unsupportedTransferEncoding(encoding) }
            return nil
        }
        guard let length = lengths.first else { return nil }
        let digits = trimmed(length)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw .invalidFraming("Content-Length is not a number")
        }
        return digits.utf8.count > 18 ? Int.max : Int(digits)!
    }

    static func trimmed(_ text: String) -> String {
        var slice = text[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
