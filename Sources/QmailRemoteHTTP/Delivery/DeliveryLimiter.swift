// The limit on SMTP deliveries in flight, with a bounded wait queue. A
// request is admitted only if all its deliveries fit in the free slots plus
// the queue's free places (all or nothing, never half a request); waiters get
// slots first come, first served, each woken alone when a slot is handed to
// it (no thundering herd). Once shut, it admits nothing more.

public final class DeliveryLimiter: @unchecked Sendable {
    // @unchecked: every field below is read and written under `lock` only.
    private let lock = Lock()
    public let limit: Int
    public let queueLength: Int
    private var inFlight = 0
    /// Admitted deliveries that have not asked for their slot yet.
    private var admitted = 0
    private var waiters: [Waiter] = []
    private var shut = false

    public init(limit: Int, queueLength: Int) {
        self.limit = max(1, limit)
        self.queueLength = max(0, queueLength)
    }

    public enum Refusal: Error { case full, shuttingDown }

    /// Reserves room for `deliveries`; they then call `acquire` and `release`.
    public func admit(_ deliveries: Int) -> Refusal? {
        lock.withLock { () -> Refusal? in
            if shut { return .shuttingDown }
            let queuedAfter = waiters.count + admitted + deliveries - max(0, limit - inFlight)
            if queuedAfter > queueLength { return .full }
            admitted += deliveries
            return nil
        }
    }

    /// Waits for a slot, in arrival order, for one admitted delivery.
    public func acquire() {
        lock.withLock {
            admitted -= 1
            if inFlight < limit && waiters.isEmpty {
                inFlight += 1
                return
            }
            let waiter = Waiter()
            waiters.append(waiter)
            while !waiter.granted { lock.wait(on: waiter.condition) }
        }
    }

    /// Gives the slot to the longest waiter, or frees it.
    public func release() {
        lock.withLock {
            if waiters.isEmpty {
                inFlight -= 1
            } else {
                let next = waiters.removeFirst()
                next.granted = true
                next.condition.signal()
            }
        }
    }

    public func shutDown() { lock.withLock { shut = true } }

    public var deliveriesInFlight: Int { lock.withLock { inFlight } }
}

/// One thread waiting for a slot; `granted` is guarded by the limiter's lock.
private final class Waiter {
    let condition = Condition()
    var granted = false
}
