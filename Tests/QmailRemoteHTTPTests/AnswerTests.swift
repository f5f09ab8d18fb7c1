// The answer's mapping from reports to outcomes and HTTP status (delivered,
// deferred, failed, uncertain, mixed), the JSON writer, the delivery pool's
// admission, and what the drain deadline answers for unfinished deliveries.

import QmailRemote
import QmailSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import QmailRemoteHTTP

@Suite struct AnswerTests {
    func result(
        _ host: String, _ indices: [Int], _ recipients: [Report], _ message: Report, duplicate: Bool = false
    )
        -> GroupResult
    {
        var report = DeliveryReport(recipientReports: recipients, messageReport: message)
        report.possibleDuplicate = duplicate
        return GroupResult(host: Array(host.utf8), recipientIndices: indices, report: report)
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
                #"{"outcome":"mixed","possible_duplicate":false,"recipients":[{"address":"a@x","outcome":"delivered","host":"x","report":"r","text":""}"#
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

    @Test func possibleDuplicateIsUncertainNot503() {
        let answer = DeliveryAnswer(
            recipients: [addresses[0], addresses[2]],
            results: [
                result(
                    "x", [0, 1], [Report(.recipientAccepted, []), Report(.recipientRejected, "no")],
                    LocalFailure.connectionDied(IPAddress(1, 2, 3, 4), possibleDuplicate: true).report,
                    duplicate: true)
            ])
        #expect(answer.recipientOutcomes == [.uncertain, .failed])
        #expect(answer.response.status == 207)
        #expect(!answer.response.headers.contains { $0.name == "Retry-After" })
        let body = String(decoding: answer.response.body, as: UTF8.self)
        #expect(body.hasPrefix(#"{"outcome":"mixed","possible_duplicate":true,"#))
        #expect(body.contains(#""tls":null,"reused":false,"possible_duplicate":true,"dkim":[]}"#))

        let allUncertain = DeliveryAnswer(
            recipients: [addresses[0]],
            results: [
                result("x", [0], [Report(.recipientAccepted, [])], Report(.messageDeferred, "?"), duplicate: true)
            ]
        )
        #expect(allUncertain.outcome == .uncertain && allUncertain.response.status == 207)
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
                GroupResult(host: Array("x".utf8), recipientIndices: [0], report: signed),
                result("y", [1], [Report(.recipientAccepted, [])], Report(.messageAccepted, "ok\n")),
            ])
        let body = String(decoding: answer.response.body, as: UTF8.self)
        #expect(
            body.contains(
                #""tls":null,"reused":false,"possible_duplicate":false,"dkim":[{"d":"example.org","s":"r","a":"rsa-sha256"},{"d":"example.org","s":"e","a":"ed25519-sha256"}]}"#
            ))
        #expect(body.contains(#""tls":null,"reused":false,"possible_duplicate":false,"dkim":[]}]}"#))
    }

    @Test func jsonEscaping() {
        let value = JSONValue.object([("t", .text([0x22, 0x5c, 10, 13, 9, 1, 0x7f, 0xc3, 0xa9, 0xff]))])
        #expect(value.serialized() == "{\"t\":\"\\\"\\\\\\n\\r\\t\\u0001\\u007f\u{e9}\u{fffd}\"}")
    }

    @Test func poolAdmitsAllOrNothing() {
        let pool = WorkerPool(threads: 2, capacity: 1)
        let release = Mutex(false)
        let started = Atomic<Int>(0)
        let blocking = WorkerPool.Job {
            started.add(1, ordering: .sequentiallyConsistent)
            while !release.withLock({ $0 }) { usleep(1000) }
        }
        #expect(pool.submit([blocking, blocking, blocking]))  // 2 run, 1 waits
        #expect(!pool.submit([blocking]))  // would be a second waiter
        while started.load(ordering: .sequentiallyConsistent) < 2 { usleep(1000) }
        #expect(!pool.submit([blocking]))
        release.withLock { $0 = true }
        while started.load(ordering: .sequentiallyConsistent) < 3 || pool.running > 0 { usleep(1000) }
        #expect(pool.submit([blocking, blocking, blocking]))
    }

    @Test func aBusyDestinationWaitsAndOthersGoFirst() {
        let pool = WorkerPool(threads: 4, capacity: nil, perDestination: 2)
        let release = Mutex(false)
        let order = Mutex<[String]>([])
        func job(_ destination: String) -> WorkerPool.Job {
            WorkerPool.Job(destination: Array(destination.utf8)) {
                order.withLock { $0.append(destination) }
                if destination == "slow" { while !release.withLock({ $0 }) { usleep(1000) } }
            }
        }
        #expect(pool.submit([job("slow"), job("slow"), job("slow"), job("slow"), job("fast"), job("fast")]))
        while order.withLock({ $0.count }) < 4 { usleep(1000) }
        usleep(20_000)
        // Two slow ones run; the others for "slow" wait while "fast" goes by them
        // (the four run on four threads at once, so in any order).
        #expect(order.withLock { $0 }.sorted() == ["fast", "fast", "slow", "slow"])
        #expect(pool.running(for: Array("slow".utf8)) == 2)
        release.withLock { $0 = true }
        while order.withLock({ $0.count }) < 6 || pool.running > 0 { usleep(1000) }
        #expect(order.withLock { $0 }.suffix(2) == ["slow", "slow"])
    }

    @Test func everyJobRunsWithinItsDestinationLimitWhenManyArriveAtOnce() {
        // Threads are woken one per job and a finishing thread looks for held-back
        // work itself: no job may be left waiting while a thread sleeps.
        let pool = WorkerPool(threads: 8, capacity: nil, perDestination: 3)
        let running = Mutex<[String: Int]>([:])
        let worst = Mutex(0)
        let done = Mutex(0)
        let destinations = ["a", "b", "c", "d"]
        let submitters = 4
        let perSubmitter = 500
        for submitter in 0..<submitters {
            _ = Threads.start(stackSize: 1 << 18) {
                for index in 0..<perSubmitter {
                    let destination = destinations[(index + submitter) % destinations.count]
                    let job = WorkerPool.Job(destination: Array(destination.utf8)) {
                        let now = running.withLock { counts -> Int in
                            counts[destination, default: 0] += 1
                            return counts[destination]!
                        }
                        worst.withLock { $0 = max($0, now) }
                        if index % 7 == 0 { usleep(50) }
                        running.withLock { $0[destination]! -= 1 }
                        done.withLock { $0 += 1 }
                    }
                    #expect(pool.submit([job]))
                }
            }
        }
        let deadline = Clock.seconds() + 30
        while done.withLock({ $0 }) < submitters * perSubmitter && Clock.seconds() < deadline { usleep(1000) }
        #expect(done.withLock { $0 } == submitters * perSubmitter)
        #expect(worst.withLock { $0 } <= 3)
        #expect(pool.running == 0)
    }

    @Test func heldBackJobsAllRunWithoutWakingEveryThread() {
        // Threads that finish a job look for the next one themselves: nothing
        // held back for a destination is left waiting once its slot frees.
        let pool = WorkerPool(threads: 4, capacity: nil, perDestination: 1)
        let running = Mutex<[String: Int]>([:])
        let most = Mutex(0)
        let done = Atomic<Int>(0)
        let destinations = ["a", "b", "c"]
        let jobs = (0..<300).map { index in
            let destination = destinations[index % 3]
            return WorkerPool.Job(destination: Array(destination.utf8)) {
                let now = running.withLock {
                    $0[destination, default: 0] += 1
                    return $0[destination]!
                }
                most.withLock { $0 = max($0, now) }
                usleep(100)
                running.withLock { $0[destination]! -= 1 }
                done.add(1, ordering: .sequentiallyConsistent)
            }
        }
        // Some submitted one at a time, some together.
        for job in jobs.prefix(100) { #expect(pool.submit([job])) }
        #expect(pool.submit(Array(jobs.dropFirst(100))))
        let deadline = Clock.seconds() + 30
        while done.load(ordering: .sequentiallyConsistent) < 300 && Clock.seconds() < deadline { usleep(1000) }
        #expect(done.load(ordering: .sequentiallyConsistent) == 300)
        #expect(most.withLock { $0 } == 1)
    }

    @Test func finalDotGateDecidesOnce() {
        let gate = FinalDotGate()
        #expect(gate.commit())
        #expect(!gate.close())
        let closed = FinalDotGate()
        #expect(closed.close())
        #expect(!closed.commit())
        #expect(closed.isClosed)
    }

    @Test func deadlineAnswersByWhatTheGatesKnow() {
        let results = Mutex<[GroupResult]?>(nil)
        let execution = DeliveryExecution(
            groups: [(Array("a".utf8), [0]), (Array("b".utf8), [1]), (Array("c".utf8), [2])]
        ) { _, groupResults in results.withLock { $0 = groupResults } }
        execution.finished(0, report: DeliveryReport(failure: Report(.messageAccepted, "ok")))
        #expect(execution.gates[1].commit())  // the dot went out; no reply yet
        execution.finishNow()
        let reports = results.withLock { $0 }!.map(\.report)
        #expect(reports[0].messageReport.letter == .messageAccepted)
        #expect(reports[1].possibleDuplicate && reports[1].messageReport.letter == .messageDeferred)
        #expect(reports[2] == DeliveryReport(failure: LocalFailure.stoppedBeforeFinalDot.report))
        #expect(execution.gates[2].isClosed)
        // Late results change nothing: the answer was given.
        execution.finished(1, report: DeliveryReport(failure: Report(.messageAccepted, "late")))
        #expect(results.withLock { $0 }!.map(\.report) == reports)
    }
}
