// Idempotency keys on both engines: begin / finish / replay / mismatch,
// abandon, expiry, stale keys, scopes, and two stores racing on one key.

import struct QmailSupport.SHA256
import Testing

@testable import QmailRemoteHTTP

@Suite struct IdempotencyStoreTests {
    let answer = StoredAnswer(
        status: 202, headers: [("Location", "/v1/deliveries/abc"), ("Content-Type", "application/json")],
        body: bytes("{\"id\":\"abc\",\"status\":\"queued\"}") + [0, 255])
    let scope = StoreScope(token: bytes("secret-token"))

    @Test(arguments: Engine.available)
    func firstUseRunsThenTheAnswerIsReplayedByteForByte(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let fingerprint = SHA256.digest(bytes("request"))
        let begin = {
            try store.beginIdempotentRequest(
                scope: scope, key: "k1", fingerprint: fingerprint, ttlSeconds: 100, staleAfterSeconds: 50, now: 1000)
        }
        #expect(try begin() == .new)
        #expect(try begin() == .inProgress)
        try store.finishIdempotentRequest(scope: scope, key: "k1", answer: answer)
        #expect(try begin() == .replay(answer))
        #expect(
            try store.beginIdempotentRequest(
                scope: scope, key: "k1", fingerprint: SHA256.digest(bytes("other")), ttlSeconds: 100,
                staleAfterSeconds: 50, now: 1001) == .mismatch)
    }

    @Test(arguments: Engine.available)
    func replayedAfterReopening(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        do {
            let store = try fixture.open()
            _ = try store.beginIdempotentRequest(
                scope: scope, key: "k", fingerprint: [1], ttlSeconds: 100, staleAfterSeconds: 50, now: 1000)
            try store.finishIdempotentRequest(scope: scope, key: "k", answer: answer)
        }
        let reopened = try fixture.open()
        #expect(
            try reopened.beginIdempotentRequest(
                scope: scope, key: "k", fingerprint: [1], ttlSeconds: 100, staleAfterSeconds: 50, now: 1010)
                == .replay(answer))
    }

    @Test(arguments: Engine.available)
    func keysOfOneTokenAreInvisibleToAnother(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        let other = StoreScope(token: bytes("another-token"))
        #expect(
            try store.beginIdempotentRequest(
                scope: scope, key: "k", fingerprint: [1], ttlSeconds: 100, staleAfterSeconds: 50, now: 1000) == .new)
        #expect(
            try store.beginIdempotentRequest(
                scope: other, key: "k", fingerprint: [2], ttlSeconds: 100, staleAfterSeconds: 50, now: 1000) == .new)
        #expect(
            try store.beginIdempotentRequest(
                scope: .anonymous, key: "k", fingerprint: [3], ttlSeconds: 100, staleAfterSeconds: 50, now: 1000)
                == .new)
    }

    @Test(arguments: Engine.available)
    func abandonedExpiredAndStaleKeysCanBeUsedAgain(engine: Engine) throws {
        let store = try StoreFixture(engine).open()
        func begin(_ key: String, _ fingerprint: [UInt8], at now: Int64) throws -> IdempotencyBegin {
            try store.beginIdempotentRequest(
                scope: scope, key: key, fingerprint: fingerprint, ttlSeconds: 100, staleAfterSeconds: 30, now: now)
        }
        #expect(try begin("a", [1], at: 1000) == .new)
        try store.abandonIdempotentRequest(scope: scope, key: "a")
        #expect(try begin("a", [2], at: 1001) == .new)

        #expect(try begin("b", [1], at: 1000) == .new)
        try store.finishIdempotentRequest(scope: scope, key: "b", answer: answer)
        // Abandon does not touch an answered key.
        try store.abandonIdempotentRequest(scope: scope, key: "b")
        #expect(try begin("b", [1], at: 1099) == .replay(answer))
        #expect(try begin("b", [9], at: 1100) == .new)

        #expect(try begin("c", [1], at: 1000) == .new)
        #expect(try begin("c", [1], at: 1029) == .inProgress)
        #expect(try begin("c", [1], at: 1030) == .new)

        #expect(try store.expireIdempotencyKeys(now: 5000) == 3)
        #expect(try begin("b", [7], at: 5000) == .new)
    }

    @Test(arguments: Engine.available)
    func anSQLiteRestartFreesKeysLeftInProgress(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        do {
            let store = try fixture.open()
            _ = try store.beginIdempotentRequest(
                scope: scope, key: "k", fingerprint: [1], ttlSeconds: 100, staleAfterSeconds: 50, now: 1000)
        }
        let reopened = try fixture.open()
        let again = try reopened.beginIdempotentRequest(
            scope: scope, key: "k", fingerprint: [1], ttlSeconds: 100, staleAfterSeconds: 50, now: 1001)
        // SQLite: one process owns the file, so the old key died with it.
        // PostgreSQL: another replica may still be running it.
        #expect(again == (engine == .sqlite ? .new : .inProgress))
    }

    @Test(arguments: Engine.available)
    func racingRequestsOnOneKeyLetExactlyOneRun(engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        // Two replicas on PostgreSQL; on SQLite one store (one process per file).
        let first = try fixture.open()
        let second = engine == .postgresql ? try fixture.open() : first
        let results = Results<IdempotencyBegin>()
        concurrently(16) { index in
            let store = index % 2 == 0 ? first : second
            let result = try? store.beginIdempotentRequest(
                scope: scope, key: "race", fingerprint: [7], ttlSeconds: 100, staleAfterSeconds: 50, now: 1000)
            results.append(result)
        }
        #expect(results.values.filter { $0 == .new }.count == 1)
        #expect(results.values.filter { $0 == .inProgress }.count == 15)
    }
}

/// Values gathered from several threads.
final class Results<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `stored` is guarded by `lock`.
    private let lock = Lock()
    private var stored: [Value?] = []

    func append(_ value: Value?) { lock.withLock { stored.append(value) } }
    var values: [Value?] { lock.withLock { stored } }
}
