// The limit on SMTP deliveries in flight, with a bounded wait queue. A
// request is admitted only if all its deliveries fit in the free slots plus
// the queue's free places (all or nothing, never half a request); waiters get slots first come, first served.
// Once shut, it admits nothing more.

#if canImport(Glibc)
import Glibc
#endif

public final class DeliveryLimiter: @unchecked Sendable {
    // @unchecked: every field below is read and written under `mutex` only.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    public let limit: Int
    public let queueLength: Int
    private var inFlight = 0
    private var waiting = 0
    private var nextTicket: UInt64 = 0
    private var servingTicket: UInt64 = 0
    private var shut = false

    public init(limit: Int, queueLength: Int) {
        self.limit = max(1, limit)
        self.queueLength = max(0, queueLength)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    public enum Refusal: Error { case full, shuttingDown }

    /// Reserves room for `deliveries`; they then call `acquire` and `release`.
    public func admit(_ deliveries: Int) -> Refusal? {
        lock { () -> Refusal? in
            if shut { return .shuttingDown }
            let queuedAfter = waiting + deliveries - max(0, limit - inFlight)
            if queuedAfter > queueLength { return .full }
            waiting += deliveries
            return nil
        }
    }

    /// Waits for a slot (in arrival order) for one admitted delivery.
    public func acquire() {
        pthread_mutex_lock(&mutex)
        let ticket = nextTicket
        nextTicket += 1
        while inFlight >= limit || ticket != servingTicket {
            pthread_cond_wait(&condition, &mutex)
        }
        servingTicket += 1
        waiting -= 1
        inFlight += 1
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    public func release() {
        lock {
            inFlight -= 1
            pthread_cond_broadcast(&condition)
        }
    }

    public func shutDown() { lock { shut = true } }

    public var deliveriesInFlight: Int { lock { inFlight } }

    private func lock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
