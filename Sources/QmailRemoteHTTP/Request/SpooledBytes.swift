// Collects bytes (a request body as it arrives, or a message as it is
// decoded): in memory while they are under the spool threshold and the
// shared memory budget allows, otherwise in a spool file, so memory does not
// grow with what clients send. Past the limit it keeps counting but stores
// nothing: the answer is 413. Not thread-safe: one writer at a time.

import QmailRemote

public final class SpooledBytes {
    public let limit: Int
    private let threshold: Int
    private let budget: BodyMemory
    private let spoolDirectory: String
    private var memory: [UInt8] = []
    /// Bytes of the budget held for `memory`'s capacity.
    private var reserved = 0
    private var file: SpoolFile?
    private var facts = MessageFacts(size: 0, eightBit: false)
    public private(set) var count = 0
    /// A spool file could not be made or written.
    public private(set) var failed = false

    public init(limit: Int, threshold: Int, budget: BodyMemory, spoolDirectory: String) {
        self.limit = limit
        self.threshold = threshold
        self.budget = budget
        self.spoolDirectory = spoolDirectory
    }

    deinit { budget.release(reserved) }

    public var tooLarge: Bool { count > limit }

    /// Whether every byte so far is in memory (none went to a spool file).
    public var isInMemory: Bool { file == nil }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        count += bytes.count
        if tooLarge || failed {
            dropStorage()
            return
        }
        facts.scan(bytes)
        if file == nil && !holdInMemory(memory.count + bytes.count) {
            guard let spool = SpoolFile(directory: spoolDirectory), memory.withUnsafeBytes({ spool.append($0) }) else {
                failed = true
                dropStorage()
                return
            }
            file = spool
            dropMemory()
        }
        if let file {
            if !file.append(bytes) {
                failed = true
                dropStorage()
            }
        } else {
            memory.append(contentsOf: bytes)
        }
    }

    public func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// The bytes, to be read any number of times; the budget goes with them.
    /// nil when they were too many or could not be stored.
    public func finish() -> StoredMessage? {
        guard !tooLarge, !failed else { return nil }
        let stored: StoredMessage
        if let file {
            stored = StoredMessage(file: file, facts: facts)
        } else {
            stored = StoredMessage(bytes: memory, facts: facts, budget: budget, reserved: reserved)
            reserved = 0
        }
        memory = []
        file = nil
        return stored
    }

    /// Room for `total` bytes in memory, taken from the budget in doubling steps.
    private func holdInMemory(_ total: Int) -> Bool {
        guard total <= threshold else { return false }
        if total <= reserved { return true }
        let wanted = min(max(4096, reserved * 2, total), threshold)
        guard budget.reserve(wanted - reserved) else { return false }
        reserved = wanted
        memory.reserveCapacity(wanted)
        return true
    }

    private func dropMemory() {
        memory = []
        budget.release(reserved)
        reserved = 0
    }

    private func dropStorage() {
        dropMemory()
        file = nil
    }
}
