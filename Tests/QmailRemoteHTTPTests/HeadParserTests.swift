// The Acceptor's reading of a first request head from the bytes waiting on a
// connection: where it ends (as libmicrohttpd will find it), what it holds,
// and what is refused before the library ever sees it.

import Testing

@testable import QmailRemoteHTTP

@Suite struct HeadParserTests {
    func scan(_ text: String, line: Int = 100, headers: Int = 200) -> HeadScan {
        Array(text.utf8).withUnsafeBytes { HeadParser.scan($0, maxRequestLine: line, maxHeaderBytes: headers) }
    }

    func complete(_ text: String) -> (RequestHead, Int)? {
        if case .complete(let head, let length) = scan(text) { return (head, length) }
        return nil
    }

    func refusal(_ text: String, line: Int = 100, headers: Int = 200) -> String? {
        if case .refused(let error) = scan(text, line: line, headers: headers) { return error.code }
        return nil
    }

    @Test func aCompleteHead() throws {
        let text = "POST /v1/deliveries?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Length:  5 \r\n\r\nhello"
        let (head, length) = try #require(complete(text))
        #expect(head.method == "POST" && head.target == Array("/v1/deliveries?x=1".utf8) && head.version == "HTTP/1.1")
        #expect(head.headers.map(\.name) == ["Host", "Content-Length"] && head.value("content-length") == "5")
        #expect(length == text.utf8.count - 5)
        #expect(head.requestLineBytes == 32)
    }

    @Test func lineEndsAsTheLibraryReadsThem() throws {
        #expect(complete("GET / HTTP/1.0\n\n")?.1 == 16)
        #expect(complete("\r\n\nGET / HTTP/1.1\nHost: a\r\n\n")?.0.value("Host") == "a")
    }

    @Test func incompleteHeads() {
        guard case .incomplete(false) = scan("GET /healthz HT") else { Issue.record("line"); return }
        guard case .incomplete(true) = scan("GET /healthz HTTP/1.1\r\nHost: x\r\n") else {
            Issue.record("head"); return
        }
        guard case .incomplete(false) = scan("") else { Issue.record("empty"); return }
    }

    @Test func refusals() {
        #expect(refusal("GET  / HTTP/1.1\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET / HTTP/1.1 \r\n\r\n") == "invalid_framing")
        #expect(refusal("GET /\r\n\r\n") == "invalid_framing")
        #expect(refusal("G(T / HTTP/1.1\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET / HTTP/11\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET / HTTP/1.1\r\nno colon here\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n") == "invalid_framing")
        #expect(refusal("GET /" + String(repeating: "a", count: 200)) == "uri_too_long")
        #expect(refusal("GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\n\r\n") == "uri_too_long")
        #expect(refusal("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 300)) == "header_fields_too_large")
        #expect(
            refusal("GET / HTTP/1.1\r\n" + String(repeating: "X: a\r\n", count: 40) + "\r\n")
                == "header_fields_too_large")
    }

    @Test func aLiteralNULInTheTargetIsKeptForTheTargetCheck() throws {
        let (head, _) = try #require(complete("GET /a\u{0}b HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(head.target == [47, 97, 0, 98])
        #expect(throws: APIError.self) { try RequestTarget.parse(head.target) }
    }
}

@Suite struct TLSRecordScanTests {
    @Test func theFirstRecordIsWaitedForAndOthersAreTold() {
        let hello: [UInt8] = [22, 3, 1, 0, 4, 1, 0, 0, 0]
        #expect(TLSRecordScan.scan(hello[...]) == .complete)
        #expect(TLSRecordScan.scan(hello[0..<7]) == .incomplete)
        #expect(TLSRecordScan.scan(hello[0..<3]) == .incomplete)
        #expect(TLSRecordScan.scan([][...]) == .incomplete)
        #expect(TLSRecordScan.scan(Array("GET / HTTP/1.1\r\n".utf8)[...]) == .plainHTTP)
        #expect(TLSRecordScan.scan(Array("\r\nPOST".utf8)[...]) == .plainHTTP)
        #expect(TLSRecordScan.scan([22, 2, 0][...]) == .notTLS)
        #expect(TLSRecordScan.scan([22, 3, 1, 0, 0][...]) == .notTLS)
        #expect(TLSRecordScan.scan([22, 3, 3, 0x50, 0][...]) == .notTLS)
        #expect(TLSRecordScan.scan([0, 1, 2][...]) == .notTLS)
        #expect(TLSRecordScan.scan(Array("get /".utf8)[...]) == .notTLS)
    }
}
