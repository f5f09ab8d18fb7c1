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
        // Built here, on the caller's thread: the writer only sends them.
        var statements = Self.statements(delivery, inline: inline, file: file, size: size, now: now)
        if let completion { statements.append(Self.answerStatement(completion)) }
        do throws(StoreError) {
            try writes.write(statements)
        } catch {
            // After an I/O error the commit may yet have reached the disk: leave
            // the file to the sweep at the next open rather than lose a body.
            if let file, error.kind != "io_error" { bodies?.remove(file) }
            throw error
        }
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
