// Reads a request head from the bytes waiting on a new connection, before
// libmicrohttpd sees them: where it ends (as the library will find it: lines
// end at LF, with or without CR; empty lines before the request line are
// skipped), whether it is too long, and its parts. Stricter than the library
// on purpose: anything it would read another way is refused here.

enum HeadScan {
    /// More bytes are needed; `requestLineSeen` once the first line is in.
    case incomplete(requestLineSeen: Bool)
    /// The head, and how many bytes it took.
    case complete(RequestHead, length: Int)
    case refused(APIError)
}

enum HeadParser {
    static func scan(_ bytes: UnsafeRawBufferPointer, maxRequestLine: Int, maxHeaderBytes: Int) -> HeadScan {
        var start = 0
        // Empty lines before the request line are skipped, as the library does.
        while start < bytes.count {
            if bytes[start] == 10 {
                start += 1
            } else if bytes[start] == 13 && start + 1 < bytes.count && bytes[start + 1] == 10 {
                start += 2
            } else {
                break
            }
        }
        guard let lineEnd = lineEnd(bytes, from: start) else {
            if bytes.count - start > maxRequestLine { return .refused(.targetTooLong(maxRequestLine)) }
            return .incomplete(requestLineSeen: false)
        }
        let lineLength = lineEnd.contentEnd - start
        if lineLength > maxRequestLine { return .refused(.targetTooLong(maxRequestLine)) }
        guard let line = requestLine(UnsafeRawBufferPointer(rebasing: bytes[start..<lineEnd.contentEnd])) else {
            return .refused(.invalidFraming("the request line is not METHOD target HTTP/1.x"))
        }
        var headers: [(name: String, value: String)] = []
        var position = lineEnd.next
        while true {
            guard let end = Self.lineEnd(bytes, from: position) else {
                if bytes.count - lineEnd.next > maxHeaderBytes { return .refused(.headersTooLarge(maxHeaderBytes)) }
                return .incomplete(requestLineSeen: true)
            }
            if end.next - lineEnd.next > maxHeaderBytes { return .refused(.headersTooLarge(maxHeaderBytes)) }
            if end.contentEnd == position {
                let head = RequestHead(
                    method: line.method, target: line.target, version: line.version, headers: headers,
                    requestLineBytes: lineLength, headerBytes: end.next - lineEnd.next)
                return .complete(head, length: end.next)
            }
            switch header(UnsafeRawBufferPointer(rebasing: bytes[position..<end.contentEnd])) {
            case .success(let field): headers.append(field)
            case .failure(let error): return .refused(error)
            }
            position = end.next
        }
    }

    /// The end of the line starting at `from`: where its content ends (before
    /// CR LF or LF) and where the next line starts; nil without an LF yet.
    private static func lineEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> (contentEnd: Int, next: Int)? {
        var index = from
        while index < bytes.count {
            if bytes[index] == 10 {
                let contentEnd = index > from && bytes[index - 1] == 13 ? index - 1 : index
                return (contentEnd, index + 1)
            }
            index += 1
        }
        return nil
    }

    private static func requestLine(
        _ line: UnsafeRawBufferPointer
    ) -> (method: String, target: [UInt8], version: String)? {
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte), !parts[1].isEmpty else {
            return nil
        }
        let version = Array(parts[2])
        guard version.count == 8, version.starts(with: Array("HTTP/".utf8)), isDigit(version[5]),
            version[6] == UInt8(ascii: "."), isDigit(version[7])
        else { return nil }
        return (String(decoding: parts[0], as: UTF8.self), Array(parts[1]), String(decoding: version, as: UTF8.self))
    }

    private static func header(_ line: UnsafeRawBufferPointer) -> Result<(name: String, value: String), APIError> {
        if line.first == 32 || line.first == 9 {
            return .failure(.invalidFraming("a header line starts with white space (obsolete line folding)"))
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
            line[..<colon].allSatisfy(isTokenByte)
        else {
            return .failure(.invalidFraming("a header line is not name: value"))
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
        while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
        if value.contains(where: { ($0 < 32 && $0 != 9) || $0 == 127 }) {
            return .failure(.invalidFraming("a header value contains a control byte"))
        }
        return .success(
            (String(decoding: line[..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    /// RFC 9110 tchar.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
}
