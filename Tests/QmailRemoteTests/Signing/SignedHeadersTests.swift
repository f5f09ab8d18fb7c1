// Which fields a signature covers: the ones receivers look at, in the
// message's order and as the message writes their names, From once more;
// the hashed bytes take each name's instances from the bottom up (RFC 6376
// 5.4.2), and names h= could not carry are left out.

import Testing

@testable import QmailRemote

@Suite struct SignedHeadersTests {
    func signed(_ fields: [String]) -> (names: String, canonical: String) {
        let headers = SignedHeaders(fields.map { Array($0.utf8) })
        return (
            headers.names.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ":"),
            String(decoding: headers.canonical, as: UTF8.self)
        )
    }

    @Test func knownFieldsInOrderAndFromOnceMore() {
        let result = signed([
            "Received: from x", "From: a@example.com", "X-Mailer: y", "subject: hi", "List-Unsubscribe: <u>",
            "Content-Type: text/plain", "Listing: no",
        ])
        #expect(result.names == "From:subject:List-Unsubscribe:Content-Type:From")
        #expect(
            result.canonical
                == "from:a@example.com\r\nsubject:hi\r\nlist-unsubscribe:<u>\r\ncontent-type:text/plain\r\n")
    }

    @Test func repeatedNamesAreTakenFromTheBottom() {
        let result = signed(["To: first", "From: f", "To: second"])
        #expect(result.names == "To:From:To:From")
        #expect(result.canonical == "to:second\r\nfrom:f\r\nto:first\r\n")
    }

    @Test func namesThatWouldBreakTheTagAreLeftOut() {
        #expect(signed(["From: f", "List-X;y=z: v"]).names == "From:From")
    }
}
