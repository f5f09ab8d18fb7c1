// Idempotency keys: begin records a key as in progress (or finds it running,
// answered, or used for another request), finish stores the answer, abandon
// frees a key whose request died unanswered, expire drops old keys. Two
// replicas racing on one key: the unique key decides, the loser sees it running.

extension DeliveryStore {
    /// - Parameters:
    ///   - fingerprint: a digest of the request (envelope, host, message).
    ///   - ttlSeconds: how long the key is remembered from now.
    ///   - staleAfterSeconds: a key in progress this long is taken to belong to
    ///     a request that died with its process, and is given to this one.
    public func beginIdempotentRequest(
        scope: StoreScope, key: String, fingerprint: [UInt8], ttlSeconds: Int64, staleAfterSeconds: Int64,
        now: Int64
    ) throws(StoreError) -> IdempotencyBegin {
        try writes.write { connection throws(StoreError) in
            let select =
                "SELECT fingerprint, answered, started_at, expires_at, status, headers, body FROM idempotency_keys WHERE scope = $1 AND key = $2"
            var row = try connection.execute(select, .blob(scope.bytes), .text(key)).first
            if let found = row {
                let expired = found[3].integer! <= now
                let stale = found[1].integer == 0 && found[2].integer! + staleAfterSeconds <= now
                if expired || stale {
                    _ = try connection.execute(
                        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2", .blob(scope.bytes), .text(key))
                    row = nil
                }
            }
            if row == nil {
                _ = try connection.execute(
                    """
                    INSERT INTO idempotency_keys (scope, key, fingerprint, answered, started_at, expires_at)
                    VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (scope, key) DO NOTHING
                    """,
                    .blob(scope.bytes), .text(key), .blob(fingerprint), .integer(now), .integer(now + ttlSeconds))
                if connection.changes == 1 { return IdempotencyBegin.new }
                // Another replica inserted it first and has committed by now.
                row = try connection.execute(select, .blob(scope.bytes), .text(key)).first
            }
            guard let row else { return .inProgress }
            if row[0].bytes != fingerprint { return .mismatch }
            if row[1].integer == 0 { return .inProgress }
            return .replay(
                StoredAnswer(
                    status: Int(row[4].integer ?? 0), headers: StoredAnswer.decodeHeaders(row[5].bytes ?? []),
                    body: row[6].bytes ?? []))
        }
    }

    /// Stores the final answer for a key this caller began.
    public func finishIdempotentRequest(scope: StoreScope, key: String, answer: StoredAnswer) throws(StoreError) {
        try writes.write { connection throws(StoreError) in
            try Self.answer(connection, IdempotencyCompletion(scope: scope, key: key, answer: answer))
        }
    }

    /// The request died before an answer: the key may be used again at once.
    public func abandonIdempotentRequest(scope: StoreScope, key: String) throws(StoreError) {
        try writes.write { connection throws(StoreError) in
            _ = try connection.execute(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND answered = 0", .blob(scope.bytes),
                .text(key))
        }
    }

    /// Drops keys whose time is up; returns how many.
    @discardableResult
    public func expireIdempotencyKeys(now: Int64) throws(StoreError) -> Int {
        try writes.write { connection throws(StoreError) in
            _ = try connection.execute("DELETE FROM idempotency_keys WHERE expires_at <= $1", .integer(now))
            return connection.changes
        }
    }

    static func answer(_ connection: SQLConnection, _ completion: IdempotencyCompletion) throws(StoreError) {
        let statement = answerStatement(completion)
        _ = try connection.execute(statement.sql, statement.parameters)
    }

    static func answerStatement(_ completion: IdempotencyCompletion) -> SQLStatement {
        SQLStatement(
            "UPDATE idempotency_keys SET answered = 1, status = $3, headers = $4, body = $5 WHERE scope = $1 AND key = $2",
            [
                .blob(completion.scope.bytes), .text(completion.key), .integer(Int64(completion.answer.status)),
                .blob(completion.answer.encodedHeaders), .blob(completion.answer.body),
            ]
        )
    }
}
