// MTA-STS's texts: the policy file (RFC 8461 3.2) with its MX patterns
// (4.1), and the TXT record (3.1), good and bad.

import Testing

@testable import QmailRemote

@Suite struct MTASTSPolicyTests {
    func policy(_ text: String) -> MTASTSPolicy? { MTASTSPolicy(text: Array(text.utf8)) }

    @Test func parsesAPolicyWithCRLFAndUnknownKeys() throws {
        let parsed = try #require(
            policy(
                "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx:*.example.net\r\nextension: x\r\nmax_age: 86400\r\n"
            ))
        #expect(parsed.mode == .enforce && parsed.maxAge == 86400)
        #expect(parsed.mxPatterns == [Array("mail.example.com".utf8), Array("*.example.net".utf8)])
    }

    @Test func modeNoneNeedsNoMX() {
        #expect(policy("version: STSv1\nmode: none\nmax_age: 0\n")?.mode == MTASTSPolicy.Mode.none)
    }

    @Test(arguments: [
        "mode: enforce\nmx: a.test\nmax_age: 1\n",  // no version
        "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforcing\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",  // no mx
        "version: STSv1\nmode: enforce\nmx: a.test\n",  // no max_age
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n",
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
        "version: STSv1\nmode: enforce\nmx: a test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\nthis line has no colon\n",
        "<html>not a policy</html>",
    ])
    func refusesBadPolicies(_ text: String) {
        #expect(policy(text) == nil)
    }

    @Test func mxPatterns() throws {
        let parsed = try #require(
            policy("version: STSv1\nmode: enforce\nmx: Mail.Example.com\nmx: *.example.net\nmax_age: 5\n"))
        #expect(parsed.allows(Array("mail.example.com".utf8)))
        #expect(parsed.allows(Array("MAIL.example.COM.".utf8)))
        #expect(parsed.allows(Array("mx1.example.net".utf8)))
        #expect(!parsed.allows(Array("a.b.example.net".utf8)), "a wildcard matches one label only")
        #expect(!parsed.allows(Array("example.net".utf8)))
        #expect(!parsed.allows(Array("xmail.example.com".utf8)))
        #expect(!parsed.allows(Array("mx1.example.net.evil.test".utf8)))
    }

    @Test func txtRecord() {
        func record(_ texts: String...) -> [UInt8]? { MTASTSRecord.find(in: texts.map { Array($0.utf8) })?.id }
        #expect(record("v=STSv1; id=20160831085700Z;") == Array("20160831085700Z".utf8))
        #expect(record("v=STSv1;id=abc", "v=spf1 -all") == Array("abc".utf8))
        #expect(record("v=STSv1; id=abc; ext=1") == Array("abc".utf8))
        #expect(record("v=STSv1; id=a", "v=STSv1; id=b") == nil, "two records: none")
        #expect(record("v=STSv1;") == nil)
        #expect(record("v=STSv1; id=not-alphanumeric") == nil)
        #expect(record("v=STSv1; id=" + String(repeating: "a", count: 33)) == nil)
        #expect(record("v=STSv10; id=a") == nil)
        #expect(record() == nil)
    }

    @Test func tlsaUsability() {
        func usable(_ usage: UInt8, _ selector: UInt8, _ matching: UInt8, _ count: Int) -> Bool {
            TLSARecord(
                usage: usage, selector: selector, matchingType: matching, data: Array(repeating: 1, count: count)
            )
            .isUsable
        }
        #expect(usable(3, 1, 1, 32) && usable(2, 0, 2, 64) && usable(3, 0, 0, 300))
        #expect(!usable(1, 1, 1, 32) && !usable(0, 0, 1, 32), "PKIX usages are not for SMTP")
        #expect(!usable(3, 2, 1, 32) && !usable(3, 1, 3, 32) && !usable(3, 1, 1, 31) && !usable(3, 0, 0, 0))
        #expect(TLSARecord(usage: 3, selector: 1, matchingType: 1, data: [0, 171]).presentation == "3 1 1 00ab")
    }
}
