// control/dkimdomains: every kind of line that parses and every one that
// does not (with its line number), and which entry signs a message: the
// From: domain then the envelope sender's, exactly, by .suffix (longest
// first), then the empty key; d= and the key path each way.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct DKIMDomainsTests {
    func domains(_ lines: [String]) throws -> DKIMDomains {
        try DKIMDomains(lines: lines.map { Array($0.utf8) }, file: "/c/dkimdomains", keyDirectory: "/c/dkimkeys")
    }

    func plan(_ lines: [String], from: String?, sender: String? = nil) throws -> DKIMDomains.Plan? {
        try domains(lines).plan(fromDomain: from.map { Array($0.utf8) }, senderDomain: sender.map { Array($0.utf8) })
    }

    func summary(_ plan: DKIMDomains.Plan?) -> String? {
        plan.map { plan in
            String(decoding: plan.domain, as: UTF8.self) + " " + plan.keys.map(\.path).joined(separator: " ")
                + " line \(plan.line)"
        }
    }

    @Test func exactDomainSignsAsItself() throws {
        #expect(
            summary(try plan(["example.com:sel"], from: "example.com"))
                == "example.com /c/dkimkeys/example.com/sel line 1")
        #expect(try plan(["example.com:sel"], from: "sub.example.com") == nil)
        #expect(try plan(["example.com:sel"], from: "other.test") == nil)
    }

    @Test func matchingIgnoresCaseAndNamesStayAsWritten() throws {
        #expect(
            summary(try plan(["Example.COM:Sel"], from: "EXAMPLE.com"))
                == "Example.COM /c/dkimkeys/Example.COM/Sel line 1")
        // The domain from the message (the empty key's) is lowercased.
        #expect(summary(try plan([":Sel"], from: "EXAMPLE.com")) == "example.com /c/dkimkeys/default/Sel line 1")
        let error = #expect(throws: ControlError.self) { try domains(["example.com:Sel,sEL"]) }
        #expect(error?.reason == "line 1: the same selector twice")
    }

    @Test func suffixSignsAsTheSuffixLongestFirst() throws {
        let lines = [".example.com:s1", ".b.example.com:s2"]
        #expect(
            summary(try plan(lines, from: "x.b.example.com")) == "b.example.com /c/dkimkeys/b.example.com/s2 line 2")
        #expect(summary(try plan(lines, from: "a.example.com")) == "example.com /c/dkimkeys/example.com/s1 line 1")
        // A suffix does not match the bare domain; an exact key beats any suffix.
        #expect(try plan(lines, from: "example.com") == nil)
        #expect(
            summary(try plan(lines + ["x.b.example.com:s3"], from: "x.b.example.com"))
                == "x.b.example.com /c/dkimkeys/x.b.example.com/s3 line 3")
    }

    @Test func emptyKeyIsTheDefaultWithTheMatchedDomain() throws {
        #expect(summary(try plan([":sel"], from: "anything.test")) == "anything.test /c/dkimkeys/default/sel line 1")
        #expect(
            summary(try plan([":sel|relay.example"], from: "anything.test"))
                == "relay.example /c/dkimkeys/relay.example/sel line 1")
        #expect(
            summary(try plan([":sel"], from: nil, sender: "bounce.test"))
                == "bounce.test /c/dkimkeys/default/sel line 1")
        #expect(try plan([":sel"], from: nil, sender: nil) == nil)
    }

    @Test func sdidAfterTheBarIsDAndTheKeyDirectory() throws {
        #expect(
            summary(try plan(["example.com:sel|mail.example.com"], from: "example.com"))
                == "mail.example.com /c/dkimkeys/mail.example.com/sel line 1")
        #expect(
            summary(try plan([".example.com:sel|example.net"], from: "a.example.com"))
                == "example.net /c/dkimkeys/example.net/sel line 1")
    }

    @Test func twoSelectorsAreTwoKeys() throws {
        #expect(
            summary(try plan(["example.com:rsa,ed"], from: "example.com"))
                == "example.com /c/dkimkeys/example.com/rsa /c/dkimkeys/example.com/ed line 1")
    }

    @Test func fromDomainFirstThenSenderThenDefault() throws {
        let lines = ["from.test:f", "sender.test:s", ":d"]
        #expect(summary(try plan(lines, from: "from.test", sender: "sender.test"))?.hasPrefix("from.test ") == true)
        #expect(summary(try plan(lines, from: "other.test", sender: "sender.test"))?.hasPrefix("sender.test ") == true)
        #expect(
            summary(try plan(lines, from: "other.test", sender: "else.test"))
                == "other.test /c/dkimkeys/default/d line 3")
        #expect(summary(try plan(lines, from: nil, sender: "sender.test"))?.hasPrefix("sender.test ") == true)
        // Without a default, a From: domain that matches nothing leaves it to the sender.
        #expect(
            summary(try plan(["sender.test:s"], from: "other.test", sender: "sender.test"))?.hasPrefix("sender.test ")
                == true)
        #expect(try plan(["sender.test:s"], from: "other.test", sender: "else.test") == nil)
    }

    @Test func domainsThatCannotBeDAreSkipped() throws {
        // A From: domain that is no signing domain (one label, a literal, UTF-8) does not take the default.
        #expect(
            summary(try plan([":d"], from: "localhost", sender: "sender.test"))
                == "sender.test /c/dkimkeys/default/d line 1")
        #expect(
            summary(try plan([":d"], from: "b\u{FC}cher.test", sender: "sender.test"))
                == "sender.test /c/dkimkeys/default/d line 1")
        #expect(try plan([":d"], from: "under_score.test", sender: "192.0.2.1") == nil)
    }

    @Test func commentsBlankLinesAndLaterLinesWin() throws {
        let table = try domains(["# signing", "", "example.com:old", "example.com:new"])
        #expect(
            summary(table.plan(fromDomain: Array("example.com".utf8), senderDomain: nil))
                == "example.com /c/dkimkeys/example.com/new line 4")
        #expect(try domains(["# nothing", ""]).isEmpty)
    }

    @Test(arguments: [
        ("example.com", "line 2: no colon"),
        ("example.com:", "line 2: no selector"),
        ("example.com:a,b,c", "line 2: more than two selectors"),
        ("example.com:a,a", "line 2: the same selector twice"),
        ("example.com:a,", "line 2: selector  is not"),
        ("example.com:../x", "line 2: selector ../x is not"),
        ("example.com:a/b", "line 2: selector a/b is not"),
        ("example.com:-a", "line 2: selector -a is not"),
        ("example.com:s|", "line 2: the signing domain after | is not"),
        ("example.com:s|com", "line 2: the signing domain after | is not"),
        ("example.com:s|../etc", "line 2: the signing domain after | is not"),
        ("bad domain:s", "line 2: bad?domain is not a domain"),
        ("ex/ample.com:s", "line 2: ex/ample.com is not a domain"),
        ("..example.com:s", "line 2: ..example.com is not a domain"),
        ("localhost:s", "line 2: localhost has one label"),
        (".com:s", "line 2: com has one label"),
    ])
    func badLinesSayWhichAndWhy(line: String, reason: String) throws {
        let error = #expect(throws: ControlError.self) { try domains(["# first", line]) }
        #expect(error?.file == "/c/dkimdomains")
        #expect(error?.reason.hasPrefix(reason) == true, "\(error?.reason ?? "")")
    }

    @Test func loadReadsTheControlDirectory() throws {
        let control = TestKeys.controlDirectory(keys: [])
        #expect(try DKIMDomains.load(controlDirectory: control, spoolDirectory: "/tmp") == nil)
        TestKeys.write(control + "/dkimdomains", "# none yet\n")
        #expect(try DKIMDomains.load(controlDirectory: control, spoolDirectory: "/tmp") == nil)
        TestKeys.write(control + "/dkimdomains", "example.com:sel\r\n")
        let loaded = try #require(try DKIMDomains.load(controlDirectory: control, spoolDirectory: "/spool"))
        #expect(loaded.keyDirectory == control + "/dkimkeys")
        #expect(loaded.spoolDirectory == "/spool")
        #expect(loaded.file == control + "/dkimdomains")
        TestKeys.write(control + "/dkimdomains", "example.com\n")
        #expect(throws: ControlError.self) { try DKIMDomains.load(controlDirectory: control, spoolDirectory: "/tmp") }
    }
}
