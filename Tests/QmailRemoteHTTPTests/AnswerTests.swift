// The answer's mapping from reports to outcomes and HTTP status, the JSON
// writer, and the limiter's admission rule.

import Testing
import QmailRemote
@testable import QmailRemoteHTTP

@Suite struct AnswerTests {
    func result(_ host: String, _ indices: [Int], _ recipients: [Report], _ message: Report) -> GroupResult {
        GroupResult(
            host: Array(host.utf8), recipientIndices: indices,
            report: DeliveryReport(recipientReports: recipients, messageReport: message), seconds: 0)
    }

    let addresses = ["a@x", "b@y", "c@x"].map { Array($0.utf8) }

    @Test func mixedOutcomeIs207WithPerRecipientRows() {
        let answer = DeliveryAnswer(
            recipients: addresses,
            results: [
                result(
                    "x", [0, 2],
                    [Report(.recipientAccepted, []), Report(.recipientDeferred, "1.2.3.4 does not like recipient.\n")],
                    Report(.messageAccepted, "1.2.3.4 accepted message.\n")),
                result("y", [1], [], Report(.messageFailed, "Sorry, I couldn't find any host named y. (#5.1.2)\n")),
            ])
        #expect(answer.recipientOutcomes == [.delivered, .failed, .deferred])
        #expect(answer.response.status == 207)
        let body = String(decoding: answer.response.body, as: UTF8.self)
        #expect(
            body.hasPrefix(
                #"{"outcome":"mixed","recipients":[{"address":"a@x","outcome":"delivered","host":"x","report":"r","text":""}"#
            ))
        #expect(
            body.contains(
                #"{"address":"b@y","outcome":"failed","host":"y","report":"D","text":"Sorry, I couldn't find any host named y. (#5.1.2)\n"}"#
            ))
        #expect(
            body.contains(
                #""reports":[{"letter":"r","text":""},{"letter":"s","text":"1.2.3.4 does not like recipient.\n"},{"letter":"K""#
            ))
    }

    @Test func statusForUniformOutcomes() {
        let deferred = DeliveryAnswer(
            recipients: [addresses[0]], results: [result("x", [0], [], Report(.messageDeferred, "z"))])
        #expect(deferred.response.status == 503)
        #expect(deferred.response.headers.contains { $0.name == "Retry-After" })
        let failed = DeliveryAnswer(
            recipients: [addresses[0]],
            results: [result("x", [0], [Report(.recipientRejected, "h")], Report(.messageFailed, "d"))])
        #expect(failed.response.status == 422)
        let accepted = DeliveryAnswer(
            recipients: [addresses[0]],
            results: [result("x", [0], [Report(.recipientAccepted, [])], Report(.messageAccepted, "k"))])
        #expect(accepted.response.status == 200)
        // An accepted recipient takes the message report's outcome.
        let acceptedThenDeferred = DeliveryAnswer(
            recipients: [addresses[0]],
            results: [result("x", [0], [Report(.recipientAccepted, [])], Report(.messageDeferred, "died"))])
        #expect(acceptedThenDeferred.recipientOutcomes == [.deferred])
    }

    @Test func eachDeliveryListsItsSignatures() {
        var signed = DeliveryReport(
            recipientReports: [Report(.recipientAccepted, [])], messageReport: Report(.messageAccepted, "ok\n"))
        signed.signatures = [
            DKIMSignatureSummary(domain: "example.org", selector: "r", algorithm: "rsa-sha256"),
            DKIMSignatureSummary(domain: "example.org", selector: "e", algorithm: "ed25519-sha256"),
        ]
        let answer = DeliveryAnswer(
            recipients: [addresses[0], addresses[1]],
            results: [
                GroupResult(host: Array("x".utf8), recipientIndices: [0], report: signed, seconds: 0),
                result("y", [1], [Report(.recipientAccepted, [])], Report(.messageAccepted, "ok\n")),
            ])
        let body = String(decoding: answer.response.body, as: UTF8.self)
        #expect(
            body.contains(
                #""tls":null,"reused":false,"dkim":[{"d":"example.org","s":"r","a":"rsa-sha256"},{"d":"example.org","s":"e","a":"ed25519-sha256"}]}"#
            ))
        #expect(body.contains(#""tls":null,"reused":false,"dkim":[]}]}"#))
    }

    @Test func jsonEscaping() {
        let value = JSONValue.object([("t", .text([0x22, 0x5c, 10, 13, 9, 1, 0x7f, 0xc3, 0xa9, 0xff]))])
        #expect(value.serialized() == "{\"t\":\"\\\"\\\\\\n\\r\\t\\u0001\\u007f\u{e9}\u{fffd}\"}")
    }

    @Test func limiterAdmitsAllOrNothing() {
        let limiter = DeliveryLimiter(limit: 2, queueLength: 1)
        #expect(limiter.admit(3) == nil)  // 2 run, 1 waits
        #expect(limiter.admit(1) == .full)  // would be a second waiter
        limiter.acquire(); limiter.acquire()
        #expect(limiter.admit(1) == .full)
        limiter.release()
        limiter.acquire()
        #expect(limiter.admit(1) == nil)
        limiter.shutDown()
        #expect(limiter.admit(1) == .shuttingDown)
    }
}
