// store-load: drives a real store from another process, for the fault tests
// (kill -9 mid-batch, a full disk, PostgreSQL going away) and bench/store.sh.
//   store-load open URL                       open and migrate; print the error if any
//   store-load enqueue URL CLIENTS COUNT BYTES [stop-on-error]
//       COUNT enqueues from CLIENTS threads; "ok ID" on stdout once committed
//   store-load verify URL IDS-FILE            every listed id present and whole
// Not part of the gateway; a test and benchmark tool.

import QmailRemote
import QmailRemoteHTTP
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: store-load open|enqueue|verify URL ...") }
signal(SIGXFSZ, SIG_IGN)

switch arguments[1] {
case "open":
    let store = openStore(arguments[2])
    do {
        try say("ok schema \(store.schemaVersion())")
    } catch {
        fail("error \(error.kind) \(error)")
    }

case "enqueue":
    guard arguments.count >= 6, let clients = Int(arguments[3]), let count = Int(arguments[4]),
        let size = Int(arguments[5])
    else { fail("usage: store-load enqueue URL CLIENTS COUNT BYTES [stop-on-error]") }
    let store = openStore(arguments[2])
    runEnqueuers(store: store, clients: clients, count: count, size: size, stopOnError: arguments.count > 6)

case "verify":
    guard arguments.count == 4, let file = fopen(arguments[3], "r") else { fail("usage: store-load verify URL IDS") }
    var acked: [String] = []
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    while getline(&line, &capacity, file) > 0 {
        let text = String(cString: line!).split(separator: "\n").first.map(String.init) ?? ""
        if text.hasPrefix("ok ") { acked.append(String(text.dropFirst(3))) }
    }
    let store = openStore(arguments[2])
    do {
        if let problem = try store.checkIntegrity() { fail("integrity: \(problem)") }
        for id in acked {
            guard let status = try store.status(id: id, scope: .anonymous, now: Int64(time(nil))) else {
                fail("missing \(id)")
            }
            guard status.recipients.count == 2 else { fail("incomplete \(id)") }
        }
        // Every delivery present, acknowledged or not, is whole: envelope and body.
        var present = 0
        var seen = Set<String>()
        while true {
            let jobs = try store.claimDueJobs(worker: "verify", limit: 500, leaseSeconds: 600, now: Int64(time(nil)))
            if jobs.isEmpty { break }
            for job in jobs {
                if seen.insert(job.deliveryID).inserted { present += 1 }
                let body: [UInt8]
                switch job.message {
                case .inline(let bytes): body = bytes
                case .file(let path):
                    guard let stream = fopen(path, "r") else { fail("body file missing for \(job.deliveryID)") }
                    var bytes: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let count = fread(&buffer, 1, buffer.count, stream)
                        if count <= 0 { break }
                        bytes += buffer[0..<count]
                    }
                    fclose(stream)
                    body = bytes
                }
                let expected = message(for: job.deliveryID, size: body.count)
                guard body == expected, body.count > 0 else { fail("body damaged for \(job.deliveryID)") }
            }
        }
        guard acked.allSatisfy({ seen.contains($0) }) else { fail("an acknowledged delivery has no claimable job") }
        say("verified \(acked.count) acknowledged, \(present) present")
    } catch {
        fail("error \(error.kind) \(error)")
    }

default:
    fail("unknown command \(arguments[1])")
}
