// Fresh stores on real engines for the store tests: a SQLite file in a new
// temporary directory, or a new schema on the PostgreSQL server named by
// QMAIL_REMOTE_TEST_POSTGRES_URL (scripts/with-postgres.sh starts one). Under
// CI=true a missing server fails the PostgreSQL tests instead of leaving them out.

import QmailRemote
import Testing

@testable import QmailRemoteHTTP

#if canImport(Glibc)
import Glibc
#endif

enum Engine: String, CustomStringConvertible, CaseIterable, Sendable {
    case sqlite, postgresql

    var description: String { rawValue }

    static var postgresURL: String? {
        getenv("QMAIL_REMOTE_TEST_POSTGRES_URL").map { String(cString: $0) }
    }

    /// Both engines when a server is there or CI demands one; else SQLite alone.
    static var available: [Engine] {
        postgresURL != nil || getenv("CI").map({ String(cString: $0) }) == "true" ? [.sqlite, .postgresql] : [.sqlite]
    }
}

/// One test's store location; `open()` may be called again (a restart, a replica).
struct StoreFixture {
    let url: StoreURL
    let directory: String?
    /// PostgreSQL: the schema, also the application_name of the store's sessions.
    private(set) var schema: String?

    init(_ engine: Engine) throws {
        switch engine {
        case .sqlite:
            let directory = makeTemporaryDirectory()
            self.directory = directory
            url = .sqlite(path: directory + "/state.db")
        case .postgresql:
            guard let base = Engine.postgresURL else {
                throw FixtureError("QMAIL_REMOTE_TEST_POSTGRES_URL is not set: run under scripts/with-postgres.sh")
            }
            let schema = "t" + DeliveryID.generate()
            let connection = try PostgresConnection(url: base)
            try connection.executeScript("CREATE SCHEMA \(schema)")
            directory = nil
            let separator = base.contains("?") ? "&" : "?"
            // Its own schema, and its name as application_name to find its sessions.
            url = .postgresql(
                base + separator
                    + "options=-c%20search_path%3D\(schema)%20-c%20lock_timeout%3D10000&application_name=\(schema)")
            self.schema = schema
        }
    }

    var urlText: String {
        if case .postgresql(let text) = url { return text }
        return ""
    }

    func open(_ options: StoreOptions = StoreOptions()) throws -> DeliveryStore {
        try DeliveryStore.open(url, options: options)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/qmr-store-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil, "mkdtemp failed")
    return String(cString: made!)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A delivery of `recipients` ("local@domain"), grouped by domain.
func newDelivery(
    _ recipients: [String], id: String = DeliveryID.generate(), scope: StoreScope = .anonymous,
    message: MessageBody = .bytes(bytes("Subject: t\n\nhello\n"))
) -> NewDelivery {
    NewDelivery(
        id: id, scope: scope, sender: bytes("app@example.org"), host: nil,
        recipients: recipients.map {
            QueuedRecipient(address: bytes($0), host: bytes(String($0.split(separator: "@").last!)))
        }, message: message)
}

func report(_ recipients: [(ReportLetter, String)], _ message: (ReportLetter, String)) -> DeliveryReport {
    DeliveryReport(
        recipientReports: recipients.map { Report($0.0, $0.1) }, messageReport: Report(message.0, message.1))
}

/// Runs `body` on `count` threads at once and waits for all.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Work: @unchecked Sendable {
        // @unchecked: immutable after init.
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) {
            self.body = body
            self.index = index
        }
    }
    var threads: [pthread_t] = []
    for index in 0..<count {
        var thread = pthread_t()
        let work = Unmanaged.passRetained(Work(body, index)).toOpaque()
        pthread_create(
            &thread, nil,
            { context in
                let work = Unmanaged<Work>.fromOpaque(context!).takeRetainedValue()
                work.body(work.index)
                return nil
            }, work)
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}
