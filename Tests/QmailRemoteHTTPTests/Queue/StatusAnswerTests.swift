// The queue's JSON answers: the 202 and its headers, a status read back from
// a real store (recipients, schedule, attempts in the synchronous answer's
// report format), and RFC 3339 times against known dates.

import QmailRemote
import Testing

@testable import QmailRemoteHTTP

@Suite struct StatusAnswerTests {
    @Test func timesAreRFC3339InUTC() {
        #expect(StatusAnswer.rfc3339(0) == "1970-01-01T00:00:00Z")
        #expect(StatusAnswer.rfc3339(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(StatusAnswer.rfc3339(1_709_251_199) == "2024-02-29T23:59:59Z")
        #expect(StatusAnswer.rfc3339(4_102_444_800) == "2100-01-01T00:00:00Z")
        #expect(StatusAnswer.rfc3339(-1) == "1969-12-31T23:59:59Z")
    }

    @Test func acceptedSaysWhereToLook() {
        let response = StatusAnswer.accepted(id: "abc")
        #expect(response.status == 202)
        #expect(response.headers.contains { $0 == ("Location", "/v1/deliveries/abc") })
        #expect(response.headers.contains { $0 == ("Preference-Applied", "respond-async") })
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"id":"abc","status":"queued"}"# + "\n")
    }

    @Test func aStatusShowsRecipientsScheduleAndAttempts() throws {
        let store = try StoreFixture(.sqlite).open()
        let delivery = newDelivery(["a@x.test", "b@x.test"], id: "d1")
        try store.enqueue(delivery, now: 1000)
        let job = try #require(try store.claimDueJobs(worker: "w", limit: 1, leaseSeconds: 60, now: 1000).first)
        _ = try store.recordAttempt(
            job,
            report: report(
                [(.recipientAccepted, ""), (.recipientDeferred, "1.2.3.4 does not like recipient.\n")],
                (.messageAccepted, "1.2.3.4 accepted message.\n")),
            schedule: RetrySchedule(), now: 1001)
        let status = try #require(try store.status(id: "d1", scope: .anonymous, now: 1001))
        let text = String(decoding: StatusAnswer.response(status).body, as: UTF8.self)
        #expect(
            text
                == #"{"id":"d1","status":"deferred","sender":"app@example.org","host":null,"#
                + #""queued_at":"1970-01-01T00:16:40Z","finished_at":null,"possible_duplicate":false,"recipients":["#
                + #"{"address":"a@x.test","host":"x.test","outcome":"delivered","attempts":1,"next_attempt_at":null,"#
                + #""possible_duplicate":false,"report":"r","text":""},"#
                + #"{"address":"b@x.test","host":"x.test","outcome":"deferred","attempts":1,"#
                + #""next_attempt_at":"1970-01-01T00:23:20Z","possible_duplicate":false,"report":"s","#
                + #""text":"1.2.3.4 does not like recipient.\n"}],"attempts":[{"host":"x.test","number":1,"#
                + #""started_at":"1970-01-01T00:16:40Z","finished_at":"1970-01-01T00:16:41Z","outcome":"mixed","#
                + #""reports":[{"letter":"r","text":""},{"letter":"s","text":"1.2.3.4 does not like recipient.\n"},"#
                + #"{"letter":"K","text":"1.2.3.4 accepted message.\n"}]}]}"# + "\n")
    }
}

@Suite struct RequestFingerprintTests {
    func input(
        _ sender: String = "a@b.test", _ recipients: [String] = ["u@x.test"], host: String? = nil
    ) throws
        -> DeliveryInput
    {
        try DeliveryInput(
            sender: Array(sender.utf8), recipients: recipients.map { Array($0.utf8) },
            host: host.map { Array($0.utf8) },
            maxRecipients: 10)
    }

    @Test func theSameRequestHasTheSameFingerprintHoweverItIsHeld() throws {
        let text = String(repeating: "line of a message\n", count: 1000)
        let memory = StoredMessage(Array(text.utf8))
        let spool = SpooledBytes(limit: 1 << 20, threshold: 100, budget: BodyMemory(limit: 0), spoolDirectory: "/tmp")
        spool.append(Array(text.utf8))
        let spooled = try #require(spool.finish())
        #expect(spooled.isSpooled)
        #expect(RequestFingerprint.of(try input(), memory) == RequestFingerprint.of(try input(), spooled))
        #expect(RequestFingerprint.of(try input(), memory)?.count == 32)
    }

    @Test func everyPartOfTheRequestCounts() throws {
        let message = StoredMessage(Array("hi\n".utf8))
        let base = RequestFingerprint.of(try input(), message)
        let others = [
            RequestFingerprint.of(try input("c@b.test"), message),
            RequestFingerprint.of(try input("a@b.test", ["v@x.test"]), message),
            RequestFingerprint.of(try input("a@b.test", ["u@x.test", "u@x.test"]), message),
            RequestFingerprint.of(try input(host: "x.test"), message),
            RequestFingerprint.of(try input(), StoredMessage(Array("hi!\n".utf8))),
            // Field boundaries: moving a byte from one field to the next changes it.
            RequestFingerprint.of(try input("a@b.tes", ["tu@x.test"]), message),
        ]
        for other in others { #expect(other != base) }
    }
}
