// The SMTP conversation as a state machine, fed event by event: every state
// and what each event in it leads to, checked against the action and the
// report. The same conversations over a connection are SMTPSessionTests.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct SMTPConversationTests {
    typealias Action = SMTPConversation.Action

    /// Greeting and EHLO done, the transaction's first window sent.
    func afterHello(_ c: inout SMTPConversation, _ offered: SMTPConversation.Event = ehlo()) -> Action {
        #expect(c.start() == .receive)
        #expect(c.handle(reply("220 hi")) == send("EHLO me.test\r\n"))
        #expect(c.handle(.written) == .receive)
        return c.handle(offered)
    }

    func report(_ action: Action) -> [UInt8]? { ending(action).map { $0.report.qmailBytes } }

    // MARK: greeting and hello

    @Test func classicConversationStepByStep() {
        var c = conversation(esmtp: false)
        #expect(c.start() == .receive)
        #expect(c.handle(reply("220 hi")) == send("HELO me.test\r\n"))
        #expect(c.handle(.written) == .receive)
        #expect(c.handle(reply("250 hello")) == send("MAIL FROM:<a@b>\r\n"))
        #expect(c.handle(.written) == .receive)
        #expect(c.handle(reply("250 ok")) == send("RCPT TO:<u@x>\r\n"))
        #expect(c.handle(.written) == .receive)
        #expect(c.handle(reply("250 ok")) == send("DATA\r\n"))
        #expect(c.handle(.written) == .receive)
        #expect(c.handle(reply("354 go")) == .sendMessage)
        #expect(c.handle(.messageSent) == .receive)
        let end = c.handle(reply("250 yes"))
        #expect(report(end) == Array("r\0K192.0.2.1 accepted message.\nRemote host said: 250 yes\n\0".utf8))
        #expect(ending(end)?.disposal == .quit)
        #expect(c.state == .done)
    }

    @Test(arguments: ["221 bye", "421 busy", "554 no", "2"])
    func greetingOtherThan220IsTemporaryAndQuits(line: String) {
        var c = conversation()
        _ = c.start()
        let end = c.handle(reply(line))
        #expect(
            report(end) == Array("ZConnected to 192.0.2.1 but greeting failed.\nRemote host said: \(line)\n\0".utf8))
        #expect(ending(end)?.disposal == .quit)
    }

    @Test(arguments: ["500 what", "502 no", "451 later", "550 go away"])
    func refusedEHLOFallsBackToHELO(line: String) {
        var c = conversation()
        #expect(afterHello(&c, reply(line)) == send("HELO me.test\r\n"))
        #expect(c.handle(.written) == .receive)
        #expect(c.handle(reply("250 ok")) == send("MAIL FROM:<a@b>\r\n"))
        #expect(c.extensions == Extensions())
    }

    @Test(arguments: ["421 closing", "220 what", "251 odd"])
    func ehloAnsweredOtherwiseIsNameRejected(line: String) {
        var c = conversation()
        let end = afterHello(&c, reply(line))
        #expect(
            report(end)
                == Array("ZConnected to 192.0.2.1 but my name was rejected.\nRemote host said: \(line)\n\0".utf8))
        #expect(ending(end)?.disposal == .quit)
    }

    @Test func heloRefusedQuotesTheHELOReply() {
        for esmtp in [true, false] {
            var c = conversation(esmtp: esmtp)
            _ = c.start()
            if esmtp {
                _ = c.handle(reply("220 hi"))
                _ = c.handle(.written)
                _ = c.handle(reply("502 no EHLO"))
            } else {
                _ = c.handle(reply("220 hi"))
            }
            _ = c.handle(.written)
            let end = c.handle(reply("550 go away"))
            #expect(
                report(end)
                    == Array(
                        "ZConnected to 192.0.2.1 but my name was rejected.\nRemote host said: 550 go away\n\0".utf8))
        }
    }

    // MARK: STARTTLS and SMTPS

    func tlsConversation(_ level: TLSLevel, implicit: Bool = false) -> SMTPConversation {
        conversation(opening: .fresh(TLSPlan(level: level, serverName: Array("mx.test".utf8), implicit: implicit)))
    }

    @Test func startTLSWhenOfferedThenEHLOAgain() {
        var c = tlsConversation(.may)
        #expect(afterHello(&c, ehlo("PIPELINING", "STARTTLS")) == send("STARTTLS\r\n"))
        #expect(c.handle(.written) == .receive)
        #expect(c.handle(reply("220 go ahead")) == .startTLS)
        #expect(c.handle(.tlsStarted(FakeConnector.unverified)) == send("EHLO me.test\r\n"))
        #expect(c.handle(.written) == .receive)
        // What was said before TLS is forgotten: no PIPELINING now.
        #expect(c.handle(ehlo("SIZE")) == .examineMessage)
        #expect(c.tls == FakeConnector.unverified)
        #expect(!c.extensions.has("PIPELINING"))
    }

    @Test func levelNoneNeverStartsTLS() {
        var c = tlsConversation(.none)
        #expect(afterHello(&c, ehlo("STARTTLS")) == send("MAIL FROM:<a@b>\r\n"))
    }

    @Test func notOfferedIsFineUnderMayAndRefusedWhenRequired() {
        var may = tlsConversation(.may)
        #expect(afterHello(&may, ehlo("PIPELINING")) == send("MAIL FROM:<a@b>\r\nRCPT TO:<u@x>\r\nDATA\r\n"))
        for level in [TLSLevel.encrypt, .verify] {
            for offered in [ehlo("PIPELINING"), reply("502 no EHLO")] {
                var c = tlsConversation(level)
                let end = afterHello(&c, offered)
                #expect(
                    report(end)
                        == Array(
                            "ZConnected to 192.0.2.1 but it does not offer STARTTLS, and TLS is required. (#4.7.0)\n\0"
                                .utf8))
                #expect(ending(end)?.disposal == .quit)
            }
        }
    }

    @Test func refusedSTARTTLS() {
        var may = tlsConversation(.may)
        _ = afterHello(&may, ehlo("STARTTLS"))
        _ = may.handle(.written)
        #expect(may.handle(reply("454 not now")) == send("MAIL FROM:<a@b>\r\n"))
        #expect(may.tls == nil)
        var required = tlsConversation(.encrypt)
        _ = afterHello(&required, ehlo("STARTTLS"))
        _ = required.handle(.written)
        let end = required.handle(reply("454 not now"))
        #expect(
            report(end)
                == Array(
                    "ZConnected to 192.0.2.1 but STARTTLS was refused, and TLS is required.\nRemote host said: 454 not now\n\0"
                        .utf8))
    }

    @Test func failedHandshakeRetriesInPlainTextUnderMayOnly() {
        for level in [TLSLevel.may, .encrypt, .verify] {
            var c = tlsConversation(level)
            _ = afterHello(&c, ehlo("STARTTLS"))
            _ = c.handle(.written)
            _ = c.handle(reply("220 go"))
            let end = c.handle(.tlsFailed(.failed("wrong version number")))
            if level == .may {
                #expect(end == .finish(.retryInPlainText))
            } else {
                #expect(
                    report(end)
                        == Array(
                            "ZConnected to 192.0.2.1 but the TLS handshake failed: wrong version number. (#4.7.0)\n\0"
                                .utf8))
                #expect(ending(end)?.disposal == .close)
            }
        }
    }

    @Test func unverifiedCertificateUnderVerifyQuitsAfterSTARTTLS() {
        var c = tlsConversation(.verify)
        _ = afterHello(&c, ehlo("STARTTLS"))
        _ = c.handle(.written)
        _ = c.handle(reply("220 go"))
        let end = c.handle(.tlsStarted(FakeConnector.unverified))
        #expect(
            report(end)
                == Array(
                    "ZConnected to 192.0.2.1 but its certificate for mx.test was not verified: self-signed certificate. (#4.7.5)\n\0"
                        .utf8))
        #expect(ending(end)?.disposal == .quit)
        #expect(ending(end)?.report.tls == FakeConnector.unverified)
    }

    @Test func smtpsShakesHandsBeforeTheGreeting() {
        var c = tlsConversation(.none, implicit: true)
        #expect(c.start() == .startTLS)
        #expect(c.handle(.tlsStarted(FakeConnector.unverified)) == .receive)
        #expect(c.handle(reply("220 hi")) == send("EHLO me.test\r\n"))
        _ = c.handle(.written)
        // TLS is in place: no STARTTLS even when offered.
        #expect(c.handle(ehlo("STARTTLS")) == send("MAIL FROM:<a@b>\r\n"))
    }

    @Test func smtpsFailuresNeverFallBackToPlainText() {
        for level in [TLSLevel.none, .may, .encrypt, .verify] {
            var c = tlsConversation(level, implicit: true)
            _ = c.start()
            let end = c.handle(.tlsFailed(.timedOut))
            #expect(
                report(end)
                    == Array("ZConnected to 192.0.2.1 but the TLS handshake failed: timed out. (#4.7.0)\n\0".utf8))
            #expect(ending(end)?.disposal == .close)
        }
        var verify = tlsConversation(.verify, implicit: true)
        _ = verify.start()
        let end = verify.handle(.tlsStarted(FakeConnector.unverified))
        #expect(ending(end)?.report.messageReport.letter == .messageDeferred)
        #expect(ending(end)?.disposal == .close)
    }

    /// Under DANE and MTA-STS enforce, every way the required TLS fails ends
    /// in `tlsRefused` (the delivery may try the next server) with the same
    /// disposal that tlspolicy's verify level gets as `report`.
    @Test func tlsRequiredByDANEOrMTASTSEndsInARefusalThatLetsTheNextServerBeTried() {
        func plan(_ source: TLSPolicySource) -> TLSPlan {
            var plan = TLSPlan(level: source == .dane ? .dane : .verify, serverName: Array("mx.test".utf8))
            plan.source = source
            plan.policyDomain = Array("x.test".utf8)
            return plan
        }
        // Each way to fail, from a fresh conversation to its last action.
        let failures: [(String, (inout SMTPConversation) -> Action)] = [
            ("not offered", { c in afterHello(&c, ehlo("PIPELINING")) }),
            ("EHLO refused", { c in afterHello(&c, reply("502 no")) }),
            (
                "STARTTLS refused",
                { c in
                    _ = afterHello(&c, ehlo("STARTTLS"))
                    _ = c.handle(.written)
                    return c.handle(reply("454 not now"))
                }
            ),
            (
                "handshake failed",
                { c in
                    _ = afterHello(&c, ehlo("STARTTLS"))
                    _ = c.handle(.written)
                    _ = c.handle(reply("220 go"))
                    return c.handle(.tlsFailed(.failed("wrong version number")))
                }
            ),
            (
                "certificate failed",
                { c in
                    _ = afterHello(&c, ehlo("STARTTLS"))
                    _ = c.handle(.written)
                    _ = c.handle(reply("220 go"))
                    return c.handle(.tlsStarted(FakeConnector.unverified))
                }
            ),
        ]
        for (name, fail) in failures {
            var underTLSPolicy = conversation(opening: .fresh(plan(.tlspolicy)))
            guard case .finish(.report(let expected, let disposal)) = fail(&underTLSPolicy) else {
                Issue.record("\(name): tlspolicy's verify ends in a report")
                continue
            }
            for source in [TLSPolicySource.dane, .mtaSTS] {
                var c = conversation(opening: .fresh(plan(source)))
                guard case .finish(.tlsRefused(let refused, let refusedDisposal)) = fail(&c) else {
                    Issue.record("\(name) under \(source) is not a refusal")
                    continue
                }
                #expect(refused.messageReport.letter == .messageDeferred, "\(name)")
                #expect(refusedDisposal == disposal, "\(name)")
                #expect(refused.messageReport.text.starts(with: Array("Connected to 192.0.2.1 but ".utf8)), "\(name)")
                #expect(refused.tls?.policy == (expected.tls == nil ? nil : source), "\(name)")
            }
        }
    }

    // MARK: logins

    let login = Credentials(user: Array("user".utf8), password: Array("pass".utf8))

    func loginConversation(_ offered: String, insecure: Bool = false) -> (SMTPConversation, Action) {
        var c = conversation(
            credentials: Credentials(user: login.user, password: login.password, allowWithoutTLS: insecure))
        let action = afterHello(&c, ehlo("AUTH " + offered))
        return (c, action)
    }

    @Test func loginNeedsTLSUnlessInsecure() {
        let (_, refused) = loginConversation("PLAIN")
        #expect(
            report(refused)
                == Array(
                    "ZConnected to 192.0.2.1 but the connection is not encrypted, and the route's login needs TLS. (#4.7.0)\n\0"
                        .utf8))
        let (_, sent) = loginConversation("PLAIN", insecure: true)
        #expect(sent == send("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"))
    }

    @Test func plainLogin() {
        var (c, _) = loginConversation("PLAIN LOGIN", insecure: true)
        _ = c.handle(.written)
        #expect(c.handle(reply("235 ok")) == send("MAIL FROM:<a@b>\r\n"))
        var (refused, _) = loginConversation("PLAIN", insecure: true)
        _ = refused.handle(.written)
        #expect(
            report(refused.handle(reply("535 no")))
                == Array(
                    "ZConnected to 192.0.2.1 but the login (PLAIN) was refused.\nRemote host said: 535 no\n\0".utf8))
    }

    @Test func loginMechanismStepByStep() {
        var (c, first) = loginConversation("LOGIN", insecure: true)
        #expect(first == send("AUTH LOGIN\r\n"))
        _ = c.handle(.written)
        #expect(c.handle(reply("334 VXNlcm5hbWU6")) == send("dXNlcg==\r\n"))
        _ = c.handle(.written)
        #expect(c.handle(reply("334 UGFzc3dvcmQ6")) == send("cGFzcw==\r\n"))
        _ = c.handle(.written)
        #expect(c.handle(reply("235 ok")) == send("MAIL FROM:<a@b>\r\n"))
        for refusalAt in 0..<3 {
            var (r, _) = loginConversation("LOGIN", insecure: true)
            for _ in 0..<refusalAt {
                _ = r.handle(.written)
                _ = r.handle(reply("334 more"))
            }
            _ = r.handle(.written)
            #expect(
                report(r.handle(reply("535 no")))?.starts(
                    with: Array("ZConnected to 192.0.2.1 but the login (LOGIN) was refused.".utf8)) == true)
        }
    }

    @Test func cramMD5AnswersTheChallenge() {
        // RFC 2195's example: tim / tanstaaftanstaaf.
        var c = conversation(
            credentials: Credentials(
                user: Array("tim".utf8), password: Array("tanstaaftanstaaf".utf8), allowWithoutTLS: true))
        #expect(afterHello(&c, ehlo("AUTH PLAIN CRAM-MD5")) == send("AUTH CRAM-MD5\r\n"))
        _ = c.handle(.written)
        let challenge = "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
        #expect(c.handle(reply(challenge)) == send("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"))
        _ = c.handle(.written)
        #expect(c.handle(reply("235 ok")) == send("MAIL FROM:<a@b>\r\n"))
    }

    @Test func cramMD5WithABadChallengeIsRefused() {
        for bad in ["334 not*base64", "504 no", "334"] {
            var c = conversation(
                credentials: Credentials(user: login.user, password: login.password, allowWithoutTLS: true))
            _ = afterHello(&c, ehlo("AUTH CRAM-MD5"))
            _ = c.handle(.written)
            #expect(
                report(c.handle(reply(bad)))?.starts(
                    with: Array("ZConnected to 192.0.2.1 but the login (CRAM-MD5) was refused.".utf8)) == true)
        }
    }

    @Test func noMechanismInCommon() {
        let (_, end) = loginConversation("GSSAPI XOAUTH2", insecure: true)
        #expect(
            report(end)
                == Array(
                    "ZConnected to 192.0.2.1 but it offers no login mechanism I have (PLAIN, LOGIN, CRAM-MD5). (#4.7.0)\n\0"
                        .utf8))
    }

    // MARK: MAIL's parameters

    @Test func sizeAndBodyFromTheFacts() {
        var c = conversation()
        #expect(afterHello(&c, ehlo("SIZE 1000", "8BITMIME")) == .examineMessage)
        #expect(
            c.handle(.messageFacts(MessageFacts(size: 12, eightBit: true)))
                == send("MAIL FROM:<a@b> SIZE=12 BODY=8BITMIME\r\n"))
        var seven = conversation()
        _ = afterHello(&seven, ehlo("SIZE", "8BITMIME"))
        #expect(
            seven.handle(.messageFacts(MessageFacts(size: 12, eightBit: false))) == send("MAIL FROM:<a@b> SIZE=12\r\n"))
    }

    @Test func unknownMessageIsDeclared8BitButHasNoSize() {
        var c = conversation()
        _ = afterHello(&c, ehlo("SIZE", "8BITMIME"))
        #expect(c.handle(.messageFacts(nil)) == send("MAIL FROM:<a@b> BODY=8BITMIME\r\n"))
    }

    @Test func tooLargeIsRefusedBeforeMAIL() {
        var c = conversation()
        _ = afterHello(&c, ehlo("SIZE 10"))
        let end = c.handle(.messageFacts(MessageFacts(size: 11, eightBit: false)))
        #expect(
            report(end)
                == Array(
                    "DConnected to 192.0.2.1 but the message (11 bytes) is larger than its limit of 10 bytes. (#5.3.4)\n\0"
                        .utf8))
        #expect(ending(end)?.disposal == .quit)
    }

    @Test func utf8AddressesNeedSMTPUTF8() {
        var c = conversation(["j\u{f6}rg@x"])
        let end = afterHello(&c, ehlo("8BITMIME"))
        #expect(
            report(end)
                == Array("DConnected to 192.0.2.1 but it cannot take UTF-8 addresses (no SMTPUTF8). (#5.6.7)\n\0".utf8))
        var ok = conversation(["j\u{f6}rg@x"])
        #expect(afterHello(&ok, ehlo("SMTPUTF8")) == send("MAIL FROM:<a@b> SMTPUTF8\r\n"))
    }

    // MARK: the transaction

    func inTransaction(_ recipients: [String], pipelining: Bool = false) -> (SMTPConversation, Action) {
        var c = conversation(recipients)
        let first = afterHello(&c, pipelining ? ehlo("PIPELINING") : ehlo())
        return (c, first)
    }

    @Test(arguments: [("550 no", "D"), ("451 later", "Z")])
    func senderRejected(line: String, letter: String) {
        var (c, _) = inTransaction(["u@x"])
        _ = c.handle(.written)
        #expect(
            report(c.handle(reply(line)))
                == Array("\(letter)Connected to 192.0.2.1 but sender was rejected.\nRemote host said: \(line)\n\0".utf8)
        )
    }

    @Test func recipientVerdictsAndUnsendableOnesInPlace() {
        var (c, _) = inTransaction(["a@x", "bad\r@x", "b@x", "c@x", "bad>@y z"])
        for (line, next) in [
            ("250 ok", "RCPT TO:<a@x>\r\n"), ("250 a", "RCPT TO:<b@x>\r\n"), ("550 b", "RCPT TO:<c@x>\r\n"),
            ("421 c", "DATA\r\n"),
        ] {
            _ = c.handle(.written)
            #expect(c.handle(reply(line)) == send(next))
        }
        _ = c.handle(.written)
        #expect(c.handle(reply("354 go")) == .sendMessage)
        #expect(
            c.recipientReports.map(\.letter) == [
                .recipientAccepted, .recipientRejected, .recipientRejected, .recipientDeferred, .recipientRejected,
            ])
        #expect(c.recipientReports[1] == LocalFailure.unsendableRecipient(.controlCharacter).report)
        #expect(
            c.recipientReports[2].text == Array("192.0.2.1 does not like recipient.\nRemote host said: 550 b\n".utf8))
        #expect(c.recipientReports[4] == LocalFailure.unsendableRecipient(.unquotableCharacter).report)
    }

    @Test func noRecipientAcceptedIsGivingUpWithoutDATA() {
        var (c, _) = inTransaction(["a@x", "b@x"])
        _ = c.handle(.written)
        _ = c.handle(reply("250 ok"))
        _ = c.handle(.written)
        _ = c.handle(reply("550 a"))
        _ = c.handle(.written)
        let end = c.handle(reply("450 b"))
        #expect(
            report(end)
                == Array(
                    "h192.0.2.1 does not like recipient.\nRemote host said: 550 a\n\0s192.0.2.1 does not like recipient.\nRemote host said: 450 b\n\0DGiving up on 192.0.2.1.\n\0"
                        .utf8))
        #expect(ending(end)?.disposal == .quit)
    }

    @Test(arguments: [("554 no", "D"), ("451 later", "Z")])
    func dataRefused(line: String, letter: String) {
        var (c, _) = inTransaction(["u@x"])
        for _ in 0..<2 {
            _ = c.handle(.written)
            _ = c.handle(reply("250 ok"))
        }
        _ = c.handle(.written)
        #expect(
            report(c.handle(reply(line)))
                == Array("r\0\(letter)192.0.2.1 failed on DATA command.\nRemote host said: \(line)\n\0".utf8))
    }

    @Test func pipelinedRepliesAreJudgedInOrder() {
        var (c, first) = inTransaction(["a@x", "b@x"], pipelining: true)
        #expect(first == send("MAIL FROM:<a@b>\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"))
        #expect(c.handle(.written) == .receive)
        #expect(c.handle(reply("250 ok")) == .receive)
        #expect(c.handle(reply("250 ok")) == .receive)
        #expect(c.handle(reply("550 no")) == .receive)
        #expect(c.handle(reply("354 go")) == .sendMessage)
    }

    @Test func pipelinedFailureReadsWhatIsOwedThenEndsAnAcceptedDATA() {
        var (c, _) = inTransaction(["a@x"], pipelining: true)
        _ = c.handle(.written)
        #expect(c.handle(reply("250 ok")) == .receive)
        #expect(c.handle(reply("550 a")) == .receive)  // giving up; DATA's reply is owed
        #expect(c.handle(reply("354 go")) == send(".\r\n"))
        #expect(c.handle(.written) == .receive)
        let end = c.handle(reply("554 no valid recipients"))
        #expect(ending(end)?.report.messageReport == LocalFailure.givingUp(testIP).report)
        #expect(ending(end)?.disposal == .quit)
    }

    @Test func pipelinedSenderRefusalDrainsWithoutEndingARefusedDATA() {
        var (c, _) = inTransaction(["a@x"], pipelining: true)
        _ = c.handle(.written)
        #expect(c.handle(reply("550 sender")) == .receive)
        #expect(c.handle(reply("503 no")) == .receive)
        let end = c.handle(reply("503 no"))
        #expect(ending(end)?.report.messageReport.letter == .messageFailed)
        #expect(ending(end)?.disposal == .quit)
        #expect(ending(end)?.report.recipientReports == [])
    }

    @Test func failuresWhileDrainingStillQuit() {
        for failure in [SMTPConversation.Event.connectionDied, .replyTooLong] {
            var (c, _) = inTransaction(["a@x"], pipelining: true)
            _ = c.handle(.written)
            _ = c.handle(reply("451 sender"))
            let end = c.handle(failure)
            #expect(
                ending(end)?.report.messageReport.text.starts(
                    with: Array("Connected to 192.0.2.1 but sender was rejected.".utf8)) == true)
            #expect(ending(end)?.disposal == .quit)
        }
    }

    @Test func windowsOfAHundredCommands() {
        let recipients = (0..<150).map { "r\($0)@x" }
        var (c, first) = inTransaction(recipients, pipelining: true)
        guard case .send(let bytes) = first else { Issue.record("no send"); return }
        #expect(bytes.filter { $0 == 10 }.count == 100)
        _ = c.handle(.written)
        for index in 0..<99 { #expect(c.handle(reply("250 ok")) == .receive, "\(index)") }
        guard case .send(let second) = c.handle(reply("250 ok")) else { Issue.record("no second window"); return }
        #expect(String(decoding: second, as: UTF8.self).hasSuffix("RCPT TO:<r149@x>\r\nDATA\r\n"))
    }

    // MARK: the message and the final dot

    func atMessage(mayKeep: Bool = false) -> SMTPConversation {
        var c = conversation(mayKeep: mayKeep)
        _ = afterHello(&c, ehlo("PIPELINING"))
        _ = c.handle(.written)
        _ = c.handle(reply("250 ok"))
        _ = c.handle(reply("250 ok"))
        #expect(c.handle(reply("354 go")) == .sendMessage)
        return c
    }

    @Test func messageOutcomes() {
        let cases: [(SMTPConversation.Event, LocalFailure, SMTPConversation.Disposal)] = [
            (.connectionDied, .connectionDied(testIP, possibleDuplicate: false), .close),
            (.messageUnreadable, .unreadableMessage, .close),
            (.partialFinalLine, .partialFinalLine, .close),
            (.stoppedBeforeFinalDot, .stoppedBeforeFinalDot, .close),
        ]
        for (event, failure, disposal) in cases {
            var c = atMessage()
            let end = c.handle(event)
            #expect(ending(end)?.report.messageReport == failure.report)
            #expect(ending(end)?.report.recipientReports.count == 1)
            #expect(ending(end)?.report.possibleDuplicate == false)
            #expect(ending(end)?.disposal == disposal)
        }
    }

    @Test(arguments: [
        ("250 yes", "K192.0.2.1 accepted message."), ("554 no", "D192.0.2.1 failed after I sent the message."),
        ("451 later", "Z192.0.2.1 failed after I sent the message."),
    ])
    func replyToTheFinalDot(line: String, text: String) {
        var c = atMessage()
        #expect(c.handle(.messageSent) == .receive)
        #expect(report(c.handle(reply(line))) == Array("r\0\(text)\nRemote host said: \(line)\n\0".utf8))
    }

    @Test func silenceAfterTheDotIsAPossibleDuplicate() {
        for (event, failure) in [
            (SMTPConversation.Event.connectionDied, LocalFailure.connectionDied(testIP, possibleDuplicate: true)),
            (.replyTooLong, .replyTooLong(testIP, possibleDuplicate: true)),
        ] {
            var c = atMessage()
            _ = c.handle(.messageSent)
            let end = c.handle(event)
            #expect(ending(end)?.report.messageReport == failure.report)
            #expect(ending(end)?.report.possibleDuplicate == true)
            #expect(ending(end)?.disposal == .close)
        }
    }

    @Test func accepted250IsKeptOnlyWhenAllowed() {
        var keep = atMessage(mayKeep: true)
        _ = keep.handle(.messageSent)
        #expect(ending(keep.handle(reply("250 yes")))?.disposal == .keep)
        var refusedKeep = atMessage(mayKeep: true)
        _ = refusedKeep.handle(.messageSent)
        #expect(ending(refusedKeep.handle(reply("550 no")))?.disposal == .quit)
    }

    @Test func failuresBeforeTheDotAreNoDuplicate() {
        for event in [SMTPConversation.Event.connectionDied, .replyTooLong] {
            var c = conversation()
            _ = c.start()
            let end = c.handle(event)
            #expect(ending(end)?.disposal == .close)
            #expect(ending(end)?.report.possibleDuplicate == false)
            #expect(ending(end)?.report.messageReport.letter == .messageDeferred)
        }
    }

    // MARK: a reused connection

    func reusedConversation(_ offered: SMTPConversation.Event = ehlo("PIPELINING")) -> (SMTPConversation, Action) {
        guard case .reply(let ehloReply) = offered else { fatalError() }
        var c = conversation(
            opening: .reused(Extensions(ehloReply: ehloReply), tls: FakeConnector.verified), mayKeep: true)
        let first = c.start()
        return (c, first)
    }

    @Test func reusedConnectionStartsWithRSETPipelined() {
        var (c, first) = reusedConversation()
        #expect(first == send("RSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@x>\r\nDATA\r\n"))
        _ = c.handle(.written)
        #expect(c.handle(reply("250 reset")) == .receive)
        #expect(c.handle(reply("250 ok")) == .receive)
        #expect(c.handle(reply("250 ok")) == .receive)
        #expect(c.handle(reply("354 go")) == .sendMessage)
        _ = c.handle(.messageSent)
        let end = c.handle(reply("250 yes"))
        #expect(ending(end)?.report.reused == true)
        #expect(ending(end)?.report.tls == FakeConnector.verified)
        #expect(ending(end)?.disposal == .keep)
    }

    @Test func reusedConnectionWithoutPipeliningWaitsForRSET() {
        var (c, first) = reusedConversation(ehlo("8BITMIME"))
        #expect(first == .examineMessage)
        #expect(c.handle(.messageFacts(nil)) == send("RSET\r\n"))
        _ = c.handle(.written)
        #expect(c.handle(reply("250 reset")) == send("MAIL FROM:<a@b> BODY=8BITMIME\r\n"))
    }

    @Test func deadOrUnwillingAtRSETIsStale() {
        for event in [reply("421 closing"), reply("500 what"), .connectionDied, .replyTooLong] {
            var (c, _) = reusedConversation()
            _ = c.handle(.written)
            #expect(c.handle(event) == .finish(.stale))
        }
        var (writeFailed, _) = reusedConversation()
        #expect(writeFailed.handle(.connectionDied) == .finish(.stale))
    }

    @Test func afterAGoodRSETAFailureIsAReport() {
        var (c, _) = reusedConversation()
        _ = c.handle(.written)
        _ = c.handle(reply("250 reset"))
        let end = c.handle(.connectionDied)
        #expect(
            ending(end)?.report.messageReport == LocalFailure.connectionDied(testIP, possibleDuplicate: false).report)
        #expect(ending(end)?.report.reused == true)
    }

    @Test func recipientRejectedOnAReusedConnectionReportsAsOnAFreshOne() {
        var (reused, _) = reusedConversation()
        _ = reused.handle(.written)
        _ = reused.handle(reply("250 reset"))
        var (fresh, _) = inTransaction(["u@x"], pipelining: true)
        _ = fresh.handle(.written)
        var ends: [DeliveryReport] = []
        for var c in [reused, fresh] {
            _ = c.handle(reply("250 ok"))
            _ = c.handle(reply("550 no such user"))
            ends.append(ending(c.handle(reply("554 no valid recipients")))!.report)
        }
        #expect(ends[0].qmailBytes == ends[1].qmailBytes)
    }
}
