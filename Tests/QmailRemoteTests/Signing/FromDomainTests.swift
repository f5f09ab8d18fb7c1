// The From: domain DMARC aligns with, out of the field's many shapes:
// display names, quoted strings and comments holding @, groups, several
// mailboxes, folding; and no domain where there is none to sign for.

import Testing

@testable import QmailRemote

@Suite struct FromDomainTests {
    @Test(arguments: [
        ("From: a@example.com", "example.com"),
        ("From: A B <a@Example.COM>", "example.com"),
        ("From: \"x@evil.test\" <a@example.com>", "example.com"),
        ("From: \"quoted \\\" <x@evil.test>\" <a@example.com>", "example.com"),
        ("From: a@example.com (comment @evil.test)", "example.com"),
        ("From: (c@evil.test) a@example.com", "example.com"),
        ("From: Name (nested (c@evil.test) x) <a@example.com>", "example.com"),
        ("From: \"a@b\"@example.com", "example.com"),
        ("From: Group: a@example.com, b@other.test;", "example.com"),
        ("From: a@example.com, b@other.test", "example.com"),
        ("From:\r\n Name\r\n <a@example.com>", "example.com"),
        ("From: a@example.com.", "example.com"),
        ("From: a @ example . com", "example.com"),
        ("FROM :a@example.com", "example.com"),
    ])
    func domainOfTheFirstMailbox(field: String, domain: String) {
        #expect(FromDomain.of(Array(field.utf8)) == Array(domain.utf8))
    }

    @Test(arguments: [
        "From: undisclosed-recipients:;",
        "From: a@[192.0.2.1]",
        "From: nobody",
        "From: <a@example.com",
        "From: Name <>",
        "From:",
        "From: \"a@example.com\"",
    ])
    func noDomain(field: String) {
        #expect(FromDomain.of(Array(field.utf8)) == nil)
    }
}
