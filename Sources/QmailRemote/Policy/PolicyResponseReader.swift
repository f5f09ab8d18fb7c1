// Reads the HTTP/1.1 answer to an MTA-STS policy request (RFC 9112), fed the
// bytes as they arrive: the status line (200 only; a redirect or any other
// status is refused, interim 1xx answers are passed over), the header fields
// (Content-Type text/plain, parameters allowed), and the body framed by
// Content-Length, chunked, or the end of the connection, 64 KiB at most.
// Strict: anything malformed is a failure with the reason. No I/O here.

import QmailSupport

struct PolicyResponseReader {
    enum Progress: Equatable {
        case needMore
        case complete([UInt8])
        case failed(PolicyFetchFailure)
    }

    /// The most a policy may be (RFC 8461 3.3 suggests 64 KiB).
    static let bodyLimit = 65536
    /// The most the status lines and header fields (and a chunked body's
    /// trailer) may take together.
    static let headerLimit = 16384
    /// The most a chunk-size line may take, extensions included.
    static let chunkLineLimit = 1024

    private enum Phase: Equatable {
        case statusLine
        case fields
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailer
        case untilClose
        case ended(Progress)
    }

    private var phase = Phase.statusLine
    /// Bytes received and not consumed yet, from `position` on.
    private var pending: [UInt8] = []
    private var position = 0
    private var headerBytes = 0
    private var body: [UInt8] = []
    private var interim = false
    private var contentType: [UInt8]?
    private var contentLength: Int?
    private var transferEncoding: [UInt8]?

    /// Takes the next bytes of the answer.
    mutating func read(_ bytes: some Collection<UInt8>) -> Progress {
        if case .ended(let progress) = phase { return progress }
        if position > 0 {
            pending.removeFirst(position)
            position = 0
        }
        pending.append(contentsOf: bytes)
        return advance()
    }

    /// The connection ended (cleanly: TLS close_notify): a body read until
    /// then is whole; anything else was cut short.
    mutating func readEnd() -> Progress {
        switch phase {
        case .ended(let progress): return progress
        case .untilClose: return end(.complete(body))
        case .statusLine where headerBytes == 0 && pending.count == position:
            return fail("the connection closed without an answer")
        case .statusLine, .fields: return fail("the connection closed in the header section")
        case .body(let remaining):
            return fail("the body was cut short (\(remaining) of \(body.count + remaining) bytes missing)")
        case .chunkSize, .chunkData, .chunkEnd, .trailer: return fail("the chunked body was cut short")
        }
    }

    private mutating func advance() -> Progress {
        while true {
            switch phase {
            case .ended(let progress): return progress
            case .statusLine, .fields, .trailer:
                guard let line = nextLine(limit: Self.headerLimit - headerBytes) else {
                    if pending.count - position > Self.headerLimit - headerBytes {
                        return fail("the header section is longer than \(Self.headerLimit) bytes")
                    }
                    return .needMore
                }
                headerBytes += line.count
                if let progress = headerLine(line.text) { return progress }
            case .chunkSize:
                guard let line = nextLine(limit: Self.chunkLineLimit) else {
                    if pending.count - position > Self.chunkLineLimit { return fail("a chunk-size line is too long") }
                    return .needMore
                }
                if let progress = chunkSizeLine(line.text) { return progress }
            case .chunkEnd:
                guard let line = nextLine(limit: 2) else {
                    if pending.count - position >= 2 { return fail("a chunk does not end with CRLF") }
                    return .needMore
                }
                guard line.text.isEmpty else { return fail("a chunk does not end with CRLF") }
                phase = .chunkSize
            case .body(let remaining), .chunkData(let remaining):
                let count = min(remaining, pending.count - position)
                if count == 0 { return .needMore }
                body += pending[position..<position + count]
                position += count
                let chunked = phase == .chunkData(remaining: remaining)
                if count < remaining {
                    phase = chunked ? .chunkData(remaining: remaining - count) : .body(remaining: remaining - count)
                    return .needMore
                }
                if !chunked { return end(.complete(body)) }
                phase = .chunkEnd
            case .untilClose:
                body += pending[position...]
                position = pending.count
                if body.count > Self.bodyLimit { return fail("the policy is larger than \(Self.bodyLimit) bytes") }
                return .needMore
            }
        }
    }

    /// The next line without its CRLF (or bare LF), and the bytes it took;
    /// nil when it has not all arrived or would be longer than `limit`.
    private mutating func nextLine(limit: Int) -> (text: ArraySlice<UInt8>, count: Int)? {
        let end = min(pending.count, position + max(0, limit))
        guard let newline = pending[position..<end].firstIndex(of: 10) else { return nil }
        var text = pending[position..<newline]
        if text.last == 13 { text = text.dropLast() }
        let count = newline + 1 - position
        position = newline + 1
        return (text, count)
    }

    /// A status line, a field line or the empty line ending the section.
    private mutating func headerLine(_ line: ArraySlice<UInt8>) -> Progress? {
        if phase == .statusLine { return statusLine(line) }
        if line.isEmpty { return phase == .trailer ? end(.complete(body)) : headerSectionEnded() }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
            line[..<colon].allSatisfy(Self.isTokenByte)
        else {
            let folded = line.first == 32 || line.first == 9
            return fail(folded ? "a header field is folded" : "a header field is malformed")
        }
        let value = Self.trimmed(line[line.index(after: colon)...])
        guard value.allSatisfy(Self.isFieldByte) else {
            return fail("a header field has control characters")
        }
        guard phase == .fields else { return nil }  // trailer fields are passed over
        switch String(decoding: ASCII.lowercased(Array(line[..<colon])), as: UTF8.self) {
        case "content-type":
            guard contentType == nil else { return fail("there is more than one Content-Type") }
            contentType = Array(value)
        case "content-length":
            guard !value.isEmpty, value.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return fail("Content-Length is malformed")
            }
            let length = value.reduce(0) { min($0 * 10 + Int($1 - 48), Self.bodyLimit + 1) }
            guard contentLength == nil || contentLength == length else {
                return fail("Content-Length is given twice, differently")
            }
            guard length <= Self.bodyLimit else { return fail("the policy is larger than \(Self.bodyLimit) bytes") }
            contentLength = length
        case "transfer-encoding":
            guard transferEncoding == nil else { return fail("there is more than one Transfer-Encoding") }
            transferEncoding = ASCII.lowercased(Array(value))
        default: break
        }
        return nil
    }

    /// "HTTP/1.x", a space, three digits, and a space and a reason (no
    /// control characters) or nothing.
    private mutating func statusLine(_ line: ArraySlice<UInt8>) -> Progress? {
        let bytes = Array(line)
        guard bytes.count >= 12, bytes.starts(with: Array("HTTP/1.".utf8)), Self.isDigit(bytes[7]), bytes[8] == 32,
            bytes[9...11].allSatisfy(Self.isDigit), bytes.count == 12 || bytes[12] == 32,
            bytes.dropFirst(13).allSatisfy(Self.isFieldByte)
        else { return fail("the status line is malformed") }
        let status = bytes[9...11].reduce(0) { $0 * 10 + Int($1 - 48) }
        switch status {
        case 200:
            interim = false
        case 100..<200 where status != 101:
            interim = true
        case 301, 302, 303, 307, 308:
            return fail("HTTP status \(status) (redirects are not followed)")
        default:
            return fail("HTTP status \(status)")
        }
        phase = .fields
        return nil
    }

    private mutating func headerSectionEnded() -> Progress? {
        if interim {
            // An interim answer (RFC 9110 15.2): the real one follows.
            contentType = nil
            contentLength = nil
            transferEncoding = nil
            phase = .statusLine
            return nil
        }
        guard let contentType else { return fail("there is no Content-Type") }
        let mediaType = Self.trimmed(contentType.prefix { $0 != UInt8(ascii: ";") })
        guard ASCII.lowercased(Array(mediaType)) == Array("text/plain".utf8) else {
            return fail("Content-Type is not text/plain")
        }
        switch (transferEncoding, contentLength) {
        case (.some, .some):
            return fail("both Content-Length and Transfer-Encoding are given")
        case (.some(let coding), nil):
            guard coding == Array("chunked".utf8) else { return fail("Transfer-Encoding is not chunked") }
            phase = .chunkSize
        case (nil, .some(let length)):
            if length == 0 { return end(.complete([])) }
            phase = .body(remaining: length)
        case (nil, nil):
            phase = .untilClose
        }
        return nil
    }

    /// Hex digits, then maybe extensions (";name=value", passed over).
    private mutating func chunkSizeLine(_ line: ArraySlice<UInt8>) -> Progress? {
        let digits = line.prefix(while: Self.isHexDigit)
        let rest = Self.trimmed(line[digits.endIndex...])
        guard !digits.isEmpty, rest.isEmpty || rest.first == UInt8(ascii: ";"),
            rest.allSatisfy(Self.isFieldByte)
        else { return fail("a chunk size is malformed") }
        let size = digits.reduce(0) { min($0 * 16 + Self.hexValue($1), Self.bodyLimit + 1) }
        guard body.count + size <= Self.bodyLimit else {
            return fail("the policy is larger than \(Self.bodyLimit) bytes")
        }
        phase = size == 0 ? .trailer : .chunkData(remaining: size)
        return nil
    }

    private mutating func fail(_ reason: String) -> Progress {
        end(.failed(PolicyFetchFailure(reason: reason)))
    }

    private mutating func end(_ progress: Progress) -> Progress {
        phase = .ended(progress)
        return progress
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 32 || first == 9 { slice = slice.dropFirst() }
        while let last = slice.last, last == 32 || last == 9 { slice = slice.dropLast() }
        return slice
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    /// What a field value or a reason phrase may hold: HTAB, SP, VCHAR and obs-text.
    private static func isFieldByte(_ byte: UInt8) -> Bool { byte == 9 || (byte >= 32 && byte != 127) }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 65 && byte <= 70) || (byte >= 97 && byte <= 102)
    }

    private static func hexValue(_ byte: UInt8) -> Int {
        Int(isDigit(byte) ? byte - 48 : (byte | 0x20) - 87)
    }

    /// RFC 9110 5.6.2's tchar: what a field name is made of.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
            || Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
    }
}
