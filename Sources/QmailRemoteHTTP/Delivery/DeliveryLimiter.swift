// The limit on SMTP deliveries in flight, with a bounded wait queue. A
// request is admitted only if all its deliveries fit in the free slots plus
// the queue's free places (all or nothing, never half a request); waiters get
// slots first come, first served, each woken alone when a slot is handed to
// it (no thundering herd). Once shut, it admits nothing more.

#if canImport(Glibc)
import Glibc
#endif

public final class DeliveryLimiter: @unchecked Sendable {
    // @unchecked: every field below is read and written under `mutex` only.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
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
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public enum Refusal: Error { case full, shuttingDown }

    /// Reserves room for `deliveries`; they then call `acquire` and `release`.
    public func admit(_ deliveries: Int) -> Refusal? {
        lock { () -> Refusal? in
            if shut { return .shuttingDown }
            let queuedAfter = waiters.count + admitted + deliveries - max(0, limit - inFlight)
            if queuedAfter > queueLength { return .full }
            admitted += deliveries
            return nil
        }
    }

    /// Waits for a slot, in arrival order, for one admitted delivery.
    public func acquire() {
        pthread_mutex_lock(mutex)
        admitted -= 1
        if inFlight < limit && waiters.isEmpty {
            inFlight += 1
            pthread_mutex_unlock(mutex)
            return
        }
        let waiter = Waiter()
        waiters.append(waiter)
        while !waiter.granted { pthread_cond_wait(waiter.condition, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Gives the slot to the longest waiter, or frees it.
    public func release() {
        lock {
            if waiters.isEmpty {
                inFlight -= 1
            } else {
                let next = waiters.removeFirst()
                next.granted = true
                pthread_cond_signal(next.condition)
            }
        }
    }

    public func shutDown() { lock { shut = true } }

    public var deliveriesInFlight: Int { lock { inFlight } }

    private func lock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}

/// One thread waiting for a slot; `granted` is guarded by the limiter's mutex.
private final class Waiter {
    let condition: UnsafeMutablePointer<pthread_cond_t>
    var granted = false

    init() {
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }
}
