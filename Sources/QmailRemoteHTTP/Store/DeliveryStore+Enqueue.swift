// Accepting a delivery into the queue: the body (inline, or a fsynced file
// beside a SQLite database), the delivery, its recipients and one job per
// host, committed together (with the idempotency answer, if any) before
// enqueue returns. Concurrent callers share commits (GroupCommit).

#if canImport(Glibc)
import Glibc
#endif

extension DeliveryStore {
    /// Durable when it returns: answer 202 only after this.
    public func enqueue(
        _ delivery: NewDelivery, completing completion: IdempotencyCompletion? = nil, now: Int64
    )
        throws(StoreError)
    {
        let (statements, file) = try prepare(delivery, completing: completion, now: now)
        do throws(StoreError) {
            try writes.write(statements)
        } catch {
            forget(file, after: error)
            throw error
        }
    }

    /// As `enqueue`, without waiting for the commit: `done` gets the result
    /// on the store's writer thread (keep it short). The caller still blocks
    /// for a body large enough to be written to a file beside a SQLite
    /// database (and fsynced); a small body in memory costs no waiting.
    public func enqueueAsync(
        _ delivery: NewDelivery, completing completion: IdempotencyCompletion? = nil, now: Int64,
        done: @escaping @Sendable (Result<Void, StoreError>) -> Void
    ) {
        let prepared: (statements: [SQLStatement], file: String?)
        do throws(StoreError) {
            prepared = try prepare(delivery, completing: completion, now: now)
        } catch {
            return done(.failure(error))
        }
        writes.writeAsync(prepared.statements) { [self] result in
            if case .failure(let error) = result { forget(prepared.file, after: error) }
            done(result)
        }
    }

    /// Whether a body of this size is written to a file of its own (and
    /// fsynced) before its row: the caller of `enqueueAsync` waits for that.
    public func keepsInFile(bodyOf size: Int) -> Bool { bodies != nil && size > inlineBodyLimit }

    /// The body stored (inline, or in a fsynced file) and the statements that
    /// commit the delivery, built on the caller's thread: the writer only sends them.
    private func prepare(
        _ delivery: NewDelivery, completing completion: IdempotencyCompletion?, now: Int64
    ) throws(StoreError) -> (statements: [SQLStatement], file: String?) {
        guard DeliveryID.isValid(delivery.id) else { throw .failed("invalid delivery id") }
        guard !delivery.recipients.isEmpty else { throw .failed("a delivery needs a recipient") }
        var inline: [UInt8]?
        let size: Int
        switch delivery.message {
        case .bytes(let bytes):
            size = bytes.count
            if size <= inlineBodyLimit || bodies == nil { inline = bytes }
        case .file(let descriptor, let length):
            size = length
            if size <= inlineBodyLimit || bodies == nil { inline = try Self.readAll(descriptor, size: length) }
        }
        let file: String?
        if inline == nil, let bodies {
            try bodies.write(delivery.id, delivery.message)
            file = delivery.id
        } else {
            file = nil
        }
        var statements = Self.statements(delivery, inline: inline, file: file, size: size, now: now)
        if let completion { statements.append(Self.answerStatement(completion)) }
        return (statements, file)
    }

    /// After a failed commit: the body file goes. After an I/O error the commit
    /// may yet have reached the disk: the file is left to the sweep at the next
    /// open rather than lose a body.
    private func forget(_ file: String?, after error: StoreError) {
        if let file, error.kind != "io_error" { bodies?.remove(file) }
    }

    /// The rows of a delivery as INSERT statements.
    private static func statements(
        _ delivery: NewDelivery, inline: [UInt8]?, file: String?, size: Int, now: Int64
    ) -> [SQLStatement] {
        let id = SQLValue.text(delivery.id)
        var statements: [SQLStatement] = []
        func add(_ sql: String, _ parameters: [SQLValue]) { statements.append(SQLStatement(sql, parameters)) }
        func placeholder(_ index: Int) -> String { "$\(index)" }
        add(
            """
            INSERT INTO deliveries (id, scope, sender, host, queued_at, message, message_file, message_size)
            VALUES (\((1...8).map(placeholder).joined(separator: ", ")))
            """,
            [
                id, .blob(delivery.scope.bytes), .blob(delivery.sender), SQLValue(delivery.host), .integer(now),
                SQLValue(inline), file.map { .text($0) } ?? .null, .integer(Int64(size)),
            ])
        for start in stride(from: 0, to: delivery.recipients.count, by: 50) {
            let chunk = delivery.recipients[start..<min(start + 50, delivery.recipients.count)]
            var values: [String] = []
            var parameters: [SQLValue] = [id]
            for (offset, recipient) in chunk.enumerated() {
                let next = parameters.count
                values.append(
                    "(\(placeholder(1)), \(placeholder(next + 1)), \(placeholder(next + 2)), \(placeholder(next + 3)), 0, 0, 0)"
                )
                parameters += [.integer(Int64(start + offset)), .blob(recipient.address), .blob(recipient.host)]
            }
            add(
                "INSERT INTO recipients (delivery_id, position, address, host, state, attempts, possible_duplicate) VALUES "
                    + values.joined(separator: ", "), parameters)
        }
        var hosts: [[UInt8]] = []
        for recipient in delivery.recipients where !hosts.contains(recipient.host) { hosts.append(recipient.host) }
        var values: [String] = []
        var parameters: [SQLValue] = [id, .integer(now)]
        for host in hosts {
            values.append("(\(placeholder(1)), \(placeholder(parameters.count + 1)), 0, 0, \(placeholder(2)), 0)")
            parameters.append(.blob(host))
        }
        add(
            "INSERT INTO jobs (delivery_id, host, done, attempts, next_attempt_at, dot_marked) VALUES "
                + values.joined(separator: ", "), parameters)
        return statements
    }

    static func readAll(_ descriptor: Int32, size: Int) throws(StoreError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let count = bytes.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress! + offset, size - offset, off_t(offset))
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw BodyFiles.error("cannot read the spooled message", errno) }
            if count == 0 { throw .ioError("the spooled message ended after \(offset) of \(size) bytes") }
            offset += count
        }
        return bytes
    }
}
