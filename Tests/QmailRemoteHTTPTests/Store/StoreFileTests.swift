// SQLite files as users meet them: created and migrated from nothing, a
// second process on the same file, a file that is not a database, bodies
// beside the database, and every URL form; PostgreSQL's lost connections.

import Testing

@testable import QmailRemoteHTTP

#if canImport(Glibc)
import Glibc
#endif

@Suite struct StoreFileTests {
    @Test(arguments: Engine.available)
    func aNewStoreIsMigratedToTheLatestSchemaAndReopens(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let delivery = newDelivery(["a@x.test"])
        do {
            let store = try fixture.open()
            #expect(try store.schemaVersion() == Schema.latestVersion(for: store.engine))
            try store.enqueue(delivery, now: 1000)
        }
        let reopened = try fixture.open()
        #expect(try reopened.schemaVersion() == Schema.latestVersion(for: reopened.engine))
        #expect(try reopened.status(id: delivery.id, scope: .anonymous, now: 1000)?.recipients.count == 1)
        #expect(try reopened.checkIntegrity() == nil)
    }

    @Test func aSchemaNewerThanThisProgramIsRefused() throws {
        let fixture = try StoreFixture(.sqlite)
        _ = try fixture.open()
        let connection = try SQLiteConnection(path: fixture.directory! + "/state.db")
        _ = try connection.execute("INSERT INTO schema_version (version) VALUES (99)")
        #expect {
            _ = try fixture.open()
        } throws: { error in
            (error as? StoreOpenError)?.reason == .schemaTooNew(found: 99, known: 1)
        }
    }

    @Test func oneProcessOwnsTheFile() throws {
        let fixture = try StoreFixture(.sqlite)
        let store = try fixture.open()
        #expect {
            _ = try fixture.open()
        } throws: { error in
            guard let error = error as? StoreOpenError, case .inUse = error.reason else { return false }
            return error.description.contains("sqlite:" + fixture.directory!)
        }
        _ = store
    }

    @Test func aFileThatIsNotADatabaseIsCorrupt() throws {
        let directory = makeTemporaryDirectory()
        let path = directory + "/state.db"
        let garbage = [UInt8](repeating: 0x5a, count: 8192)
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect {
            _ = try DeliveryStore.open(.sqlite(path: path))
        } throws: { error in
            guard let error = error as? StoreOpenError, case .corrupt = error.reason else { return false }
            return error.description.hasPrefix("cannot open sqlite:\(path): corrupt database")
        }
    }

    @Test func aDamagedPageIsFoundByTheIntegrityCheckOrRefused() throws {
        let fixture = try StoreFixture(.sqlite)
        let path = fixture.directory! + "/state.db"
        do {
            let store = try fixture.open()
            for _ in 0..<50 { try store.enqueue(newDelivery(["a@x.test", "b@y.test"]), now: 1) }
        }
        // Overwrite the second page onwards (the tables) with noise.
        let fd = open(path, O_WRONLY)
        let noise = [UInt8](repeating: 0xa5, count: 8192)
        _ = noise.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 4096) }
        close(fd)
        do {
            let store = try fixture.open()
            #expect(try store.checkIntegrity() != nil)
        } catch let error as StoreOpenError {
            guard case .corrupt = error.reason else {
                Issue.record("expected corrupt, got \(error)")
                return
            }
        }
    }

    @Test func aMissingDirectoryNamesTheURL() throws {
        #expect {
            _ = try DeliveryStore.open(.sqlite(path: "/nonexistent/qmr/state.db"))
        } throws: { error in
            (error as? StoreOpenError)?.description.hasPrefix("cannot open sqlite:/nonexistent/qmr/state.db: ") == true
        }
    }

    @Test func largeBodiesLiveInFilesBesideTheDatabaseUntilRemoved() throws {
        let fixture = try StoreFixture(.sqlite)
        var options = StoreOptions()
        options.inlineBodyLimit = 1000
        let store = try fixture.open(options)
        let big = (0..<5000).map { UInt8($0 % 251) }
        // From a spooled descriptor, as the gateway hands over raw bodies.
        let spool = fixture.directory! + "/spool"
        let fd = open(spool, O_RDWR | O_CREAT, 0o600)
        _ = big.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let delivery = newDelivery(["a@x.test"], message: .file(descriptor: fd, size: big.count))
        try store.enqueue(delivery, now: 1000)
        close(fd)
        let small = newDelivery(["b@x.test"], message: .bytes(Array(big.prefix(1000))))
        try store.enqueue(small, now: 1000)

        let jobs = try store.claimDueJobs(worker: "w", limit: 5, leaseSeconds: 60, now: 1000)
        let path = fixture.directory! + "/state.db.bodies/" + delivery.id
        #expect(jobs.first { $0.deliveryID == delivery.id }?.message == .file(path: path))
        #expect(jobs.first { $0.deliveryID == small.id }?.message == .inline(Array(big.prefix(1000))))
        #expect(try readFile(path) == big)

        for job in jobs {
            _ = try store.recordAttempt(
                job, report: report([], (.messageAccepted, "")), schedule: RetrySchedule(), now: 1001)
        }
        #expect(try store.removeFinishedDeliveries(finishedBefore: 2000) == 2)
        #expect(access(path, F_OK) != 0)
    }

    @Test func bodyFilesNoRowNamesAreSweptAtOpen() throws {
        let fixture = try StoreFixture(.sqlite)
        var options = StoreOptions()
        options.inlineBodyLimit = 10
        let kept = newDelivery(["a@x.test"], message: .bytes(bytes(String(repeating: "x", count: 100))))
        do { try fixture.open(options).enqueue(kept, now: 1) }
        let orphan = fixture.directory! + "/state.db.bodies/orphan"
        close(open(orphan, O_WRONLY | O_CREAT, 0o600))
        _ = try fixture.open(options)
        #expect(access(orphan, F_OK) != 0)
        #expect(access(fixture.directory! + "/state.db.bodies/" + kept.id, F_OK) == 0)
    }

    @Test func postgresqlComesBackAfterItsConnectionsAreCut() throws {
        guard Engine.available.contains(.postgresql) else { return }
        let fixture = try StoreFixture(.postgresql)
        let store = try fixture.open()
        let before = newDelivery(["a@x.test"])
        try store.enqueue(before, now: 1)
        // An administrator (or a failover) ends every session of this database.
        let admin = try PostgresConnection(url: Engine.postgresURL!)
        _ = try admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", .text(fixture.schema!)
        )
        // The next write may fail as unavailable (never as a commit that did not happen)...
        let during = newDelivery(["b@x.test"])
        var committed = true
        do { try store.enqueue(during, now: 2) } catch {
            #expect(error == .unavailable(error.unavailableDetail))
            committed = false
        }
        // ...and the one after that reconnects.
        let after = newDelivery(["c@x.test"])
        try store.enqueue(after, now: 3)
        _ = try? store.status(id: before.id, scope: .anonymous, now: 3)
        #expect(try store.status(id: before.id, scope: .anonymous, now: 3) != nil)
        #expect(try store.status(id: after.id, scope: .anonymous, now: 3) != nil)
        #expect(try (store.status(id: during.id, scope: .anonymous, now: 3) != nil) == committed)
    }

    @Test func urlsAreParsedAndPasswordsMasked() throws {
        #expect(try StoreURL(parsing: "sqlite:/var/lib/x/state.db") == .sqlite(path: "/var/lib/x/state.db"))
        #expect(try StoreURL(parsing: "sqlite:///tmp/a.db") == .sqlite(path: "/tmp/a.db"))
        #expect(try StoreURL(parsing: "sqlite:relative.db") == .sqlite(path: "relative.db"))
        #expect(throws: StoreOpenError.self) { try StoreURL(parsing: "sqlite:") }
        #expect(throws: StoreOpenError.self) { try StoreURL(parsing: "mysql://x") }
        let url = try StoreURL(parsing: "postgresql://qmr:s3cr%40t@db.example:5432/mail?sslmode=require")
        #expect(url.masked == "postgresql://qmr:***@db.example:5432/mail?sslmode=require")
        #expect(
            StoreURL.postgresql("postgres://db/mail?user=a&password=hunter2").masked
                == "postgres://db/mail?user=a&password=***")
        #expect(StoreURL.postgresql("postgresql://user@host/db").masked == "postgresql://user@host/db")
        #expect(StoreURL.postgresql("postgresql://u:p@ss@host/db").masked == "postgresql://u:***@host/db")
        let failure = StoreOpenError(url: url, reason: .unavailable("refused"))
        #expect(!failure.description.contains("s3cr"))
    }
}

extension StoreError {
    /// The detail of an `unavailable`, for comparing the case alone.
    var unavailableDetail: String {
        if case .unavailable(let detail) = self { return detail }
        return "<not unavailable>"
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw FixtureError("cannot open \(path)") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { return bytes }
        bytes += buffer[0..<count]
    }
}
