// The one budget for request bodies and decoded messages held in memory, all
// requests together. Bytes that do not fit go to a spool file instead: no
// request ever waits for memory, so no two requests can wait on each other.

import Synchronization

public final class BodyMemory: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) { self.limit = max(0, limit) }

    /// Takes `bytes` from the budget, or nothing when they do not fit.
    public func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limit else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    public func release(_ bytes: Int) { used.subtract(bytes, ordering: .relaxed) }

    public var inUse: Int { used.load(ordering: .relaxed) }
}
