// PolicyResponseReader on whole answers and on answers cut at every byte:
// the three ways a body is framed, interim answers, and every malformed or
// refused answer (status lines, statuses, Content-Type, Content-Length,
// Transfer-Encoding, field lines, sizes, answers cut short). The
// end-to-end tests fetch policies over real TLS.

import Testing

@testable import QmailRemote

@Suite struct PolicyResponseReaderTests {
    typealias Progress = PolicyResponseReader.Progress

    static let policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.x.test\r\nmax_age: 86400\r\n"

    /// Feeds `answer` in pieces of `piece` bytes, then the end of the
    /// connection if the reader still wants more.
    func read(_ answer: [UInt8], piece: Int = .max) -> Progress {
        var reader = PolicyResponseReader()
        var offset = 0
        while offset < answer.count {
            let end = offset + min(piece, answer.count - offset)
            let progress = reader.read(answer[offset..<end])
            if progress != .needMore { return progress }
            offset = end
        }
        return reader.readEnd()
    }

    func read(_ answer: String, piece: Int = .max) -> Progress { read(Array(answer.utf8), piece: piece) }

    func body(_ text: String) -> Progress { .complete(Array(text.utf8)) }

    func failure(_ reason: String) -> Progress { .failed(PolicyFetchFailure(reason: reason)) }

    func head(_ fields: String = "Content-Type: text/plain\r\n", status: String = "HTTP/1.1 200 OK") -> String {
        status + "\r\n" + fields + "\r\n"
    }

    // MARK: answers taken

    @Test func bodyByContentLength() {
        let answer = head("Content-Type: text/plain\r\nContent-Length: \(Self.policy.utf8.count)\r\n") + Self.policy
        #expect(read(answer) == body(Self.policy))
        // Bytes after the body (there should be none: Connection: close) are not the policy's.
        #expect(read(answer + "HTTP/1.1 200 OK\r\n") == body(Self.policy))
    }

    @Test func chunkedBodyWithExtensionsAndTrailer() {
        let answer =
            head("Transfer-Encoding: chunked\r\nContent-Type: text/plain; charset=utf-8\r\n")
            + "f\r\nversion: STSv1\r\r\n" + "11;name=value\r\n\nmode: enforce\r\nm\r\n"
            + "1E  ; x\r\nx: mx.x.test\r\nmax_age: 86400\r\n\r\n" + "0\r\nExpires: never\r\n\r\n"
        #expect(read(answer) == body(Self.policy))
    }

    @Test func bodyUntilTheConnectionEnds() {
        #expect(read(head() + Self.policy) == body(Self.policy))
        #expect(read(head(status: "HTTP/1.0 200 OK") + Self.policy) == body(Self.policy))
    }

    @Test func everyWayOfCuttingTheAnswerReadsTheSame() {
        let answers = [
            head("Content-Length: \(Self.policy.utf8.count)\r\nContent-Type: text/plain\r\n") + Self.policy,
            head("Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n") + "3\r\nver\r\n"
                + String(Self.policy.utf8.count - 3, radix: 16) + "\r\n" + String(Self.policy.dropFirst(3))
                + "\r\n0\r\n\r\n",
            head() + Self.policy,
        ]
        for answer in answers {
            for piece in [1, 2, 3, 7, 64] {
                #expect(read(answer, piece: piece) == body(Self.policy), "\(piece): \(answer)")
            }
        }
    }

    @Test func bareLineFeedsAndTheseSpellingsAreTaken() {
        #expect(read("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nab") == body("ab"))
        for type in ["text/plain", "TEXT/Plain", "text/plain;charset=us-ascii", "  text/plain ; format=flowed"] {
            #expect(read(head("Content-Type: \(type)\r\nContent-Length: 2\r\n") + "ab") == body("ab"), "\(type)")
        }
        #expect(
            read(head("content-type:text/plain\r\ncontent-length:  2 \r\nX-Other:\ta \u{e9}\t\r\n") + "ab")
                == body("ab"))
        #expect(read(head(status: "HTTP/1.1 200") + "ab") == body("ab"), "no reason phrase")
        #expect(read(head(status: "HTTP/1.1 200 ") + "ab") == body("ab"), "an empty reason phrase")
        #expect(read(head(status: "HTTP/1.1 200 Tr\u{e8}s\tbien") + "ab") == body("ab"), "obs-text and HTAB")
        #expect(
            read(head("Content-Type: text/plain\r\nTransfer-Encoding: CHUNKED\r\n") + "2\r\nab\r\n0\r\n\r\n")
                == body("ab"))
        #expect(
            read(head("Content-Length: 2\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n") + "ab") == body("ab"))
        #expect(read(head("Content-Type: text/plain\r\nContent-Length: 0\r\n")) == body(""))
    }

    @Test func interimAnswersArePassedOver() {
        let answer = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + head() + "ab"
        #expect(read(answer) == body("ab"))
        #expect(read("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n") == failure("HTTP status 101"))
    }

    @Test func sixtyFourKiBExactlyIsTaken() {
        let big = String(repeating: "x", count: PolicyResponseReader.bodyLimit)
        #expect(read(head("Content-Type: text/plain\r\nContent-Length: 65536\r\n") + big) == body(big))
        #expect(read(head() + big) == body(big))
        let chunked =
            head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n") + "8000\r\n"
            + String(big.prefix(32768)) + "\r\n8000\r\n" + String(big.prefix(32768)) + "\r\n0\r\n\r\n"
        #expect(read(chunked) == body(big))
    }

    // MARK: answers refused

    @Test func malformedStatusLines() {
        for line in [
            "", "HTTP/2 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 200OK", "http/1.1 200 OK",
            "ICY 200 OK", "HTTP/1.1  200 OK", "HTTP/1.x 200 OK", "HTTP/11 200 OK", " HTTP/1.1 200 OK", "<html>",
            "HTTP/1.1 200 O\u{0}K", "HTTP/1.1 200 OK\r", "HTTP/1.1 200 \u{1b}[2J", "HTTP/1.1 200 OK\u{7f}",
        ] {
            #expect(
                read(line + "\r\nContent-Type: text/plain\r\n\r\nab") == failure("the status line is malformed"),
                "\(line)")
        }
    }

    @Test func onlyStatus200IsTaken() {
        for status in [301, 302, 303, 307, 308] {
            #expect(
                read(head("Location: https://elsewhere.test/\r\n", status: "HTTP/1.1 \(status) Moved"))
                    == failure("HTTP status \(status) (redirects are not followed)"))
        }
        for status in [201, 204, 206, 304, 400, 404, 500, 503, 999] {
            #expect(read(head(status: "HTTP/1.1 \(status) X") + "ab") == failure("HTTP status \(status)"))
        }
    }

    @Test func contentTypeMustBeTextPlain() {
        #expect(read(head("Content-Length: 2\r\n") + "ab") == failure("there is no Content-Type"))
        for type in ["text/html", "text/plainx", "text/plain-ish", "", "application/octet-stream", "text /plain"] {
            #expect(
                read(head("Content-Type: \(type)\r\nContent-Length: 2\r\n") + "ab")
                    == failure("Content-Type is not text/plain"), "\(type)")
        }
        #expect(
            read(head("Content-Type: text/plain\r\nContent-Type: text/plain\r\n") + "ab")
                == failure("there is more than one Content-Type"))
    }

    @Test func malformedOrConflictingContentLength() {
        for value in ["12a", "-1", "", "1 2", "0x10", "+5", "2, 2"] {
            #expect(
                read(head("Content-Type: text/plain\r\nContent-Length: \(value)\r\n") + "ab")
                    == failure("Content-Length is malformed"), "\(value)")
        }
        #expect(
            read(head("Content-Type: text/plain\r\nContent-Length: 2\r\nContent-Length: 3\r\n") + "abc")
                == failure("Content-Length is given twice, differently"))
    }

    @Test func tooLargeIsRefusedBeforeOrWhileReading() {
        let tooLarge = failure("the policy is larger than 65536 bytes")
        for value in ["65537", "1048576", "99999999999999999999999999999"] {
            #expect(read(head("Content-Type: text/plain\r\nContent-Length: \(value)\r\n")) == tooLarge)
        }
        #expect(read(head() + String(repeating: "x", count: 65537)) == tooLarge)
        #expect(read(head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n") + "10001\r\n") == tooLarge)
        #expect(
            read(
                head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n") + "8000\r\n"
                    + String(repeating: "x", count: 32768) + "\r\n8001\r\n") == tooLarge)
        #expect(
            read(head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n") + "FFFFFFFFFFFFFFFFFFFFFFFF\r\n")
                == tooLarge)
    }

    @Test func transferEncodingOtherThanChunked() {
        for coding in ["gzip", "gzip, chunked", "chunked, gzip", "identity", ""] {
            #expect(
                read(head("Content-Type: text/plain\r\nTransfer-Encoding: \(coding)\r\n") + "ab")
                    == failure("Transfer-Encoding is not chunked"), "\(coding)")
        }
        #expect(
            read(head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"))
                == failure("there is more than one Transfer-Encoding"))
        #expect(
            read(head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n") + "ab")
                == failure("both Content-Length and Transfer-Encoding are given"))
    }

    @Test func malformedFieldLines() {
        for field in ["No colon here", ": empty name", "Content-Type : text/plain", "Bad Name: x", "Caf\u{e9}: x"] {
            #expect(read(head(field + "\r\n") + "ab") == failure("a header field is malformed"), "\(field)")
        }
        #expect(
            read(head("Content-Type: text/plain\r\nX-Long: one\r\n two\r\n") + "ab")
                == failure("a header field is folded"))
        for value in ["a\u{0}b", "a\rb", "a\u{1b}b", "a\u{7f}b"] {
            #expect(
                read(head("Content-Type: text/plain\r\nX-Bad: \(value)\r\n") + "ab")
                    == failure("a header field has control characters"), "\(value)")
        }
    }

    @Test func aHeaderSectionThatNeverEnds() {
        let endless = failure("the header section is longer than 16384 bytes")
        var fields = ""
        while fields.utf8.count <= PolicyResponseReader.headerLimit { fields += "X-Filler: 0123456789abcdef\r\n" }
        #expect(read("HTTP/1.1 200 OK\r\n" + fields) == endless)
        #expect(read("HTTP/1.1 200 OK\r\nX-Long: " + String(repeating: "y", count: 20000)) == endless)
        #expect(read(String(repeating: "z", count: 20000)) == endless)
        var interim = ""
        while interim.utf8.count <= PolicyResponseReader.headerLimit { interim += "HTTP/1.1 100 Continue\r\n\r\n" }
        #expect(read(interim) == endless, "interim answers count too")
    }

    @Test func answersCutShort() {
        #expect(read("") == failure("the connection closed without an answer"))
        #expect(read("HTTP/1.1 200 OK") == failure("the connection closed in the header section"))
        #expect(
            read("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
                == failure("the connection closed in the header section"))
        #expect(
            read(head("Content-Type: text/plain\r\nContent-Length: 10\r\n") + "abc")
                == failure("the body was cut short (7 of 10 bytes missing)"))
        let chunked = head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n")
        for cut in [
            "", "5", "5\r\nab", "5\r\nabcde", "5\r\nabcde\r\n", "5\r\nabcde\r\n0\r\n", "5\r\nabcde\r\n0\r\nX: y\r\n",
        ] {
            #expect(read(chunked + cut) == failure("the chunked body was cut short"), "\(cut)")
        }
    }

    @Test func malformedChunks() {
        let chunked = head("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n")
        for size in ["xyz", "", "-1", " 5", "5 5", "5\u{1}"] {
            #expect(read(chunked + size + "\r\nabcde\r\n0\r\n\r\n") == failure("a chunk size is malformed"), "\(size)")
        }
        #expect(read(chunked + "3\r\nabcde\r\n0\r\n\r\n") == failure("a chunk does not end with CRLF"))
        #expect(read(chunked + "3\r\nabc\r\r\r\n0\r\n\r\n") == failure("a chunk does not end with CRLF"))
        #expect(
            read(chunked + "5;" + String(repeating: "e", count: 2000) + "\r\n")
                == failure("a chunk-size line is too long"))
    }

    @Test func nothingIsTakenAfterTheEnd() {
        var reader = PolicyResponseReader()
        #expect(reader.read(Array("HTTP/1.1 404 Not Found\r\n".utf8)) == failure("HTTP status 404"))
        #expect(reader.read(Array(head().utf8)) == failure("HTTP status 404"))
        #expect(reader.readEnd() == failure("HTTP status 404"))
    }
}
