// A pthread mutex and condition variable. Under contention the mutex parks
// the waiting thread, where Synchronization.Mutex spins first (with a thread
// per HTTP connection on two cores, spinning burned a fifth of the CPU); the
// condition can wait with a time-out on the monotonic clock.

#if canImport(Glibc)
import Glibc
#endif

public final class Lock: @unchecked Sendable {
    // @unchecked: the mutex itself is the synchronization; it is never moved
    // (heap-allocated, owned by this object).
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Inside `withLock` only: releases the lock while waiting on `condition`.
    public func wait(on condition: Condition) {
        pthread_cond_wait(condition.pointer, mutex)
    }

    /// Inside `withLock` only: waits at most `timeout`; false when it passed.
    @discardableResult
    public func wait(on condition: Condition, timeout: Duration) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = max(timeout, .zero).components
        var nanoseconds = Int64(now.tv_nsec) + attoseconds / 1_000_000_000
        var wholeSeconds = Int64(now.tv_sec) + min(seconds, Int64(Int32.max))
        wholeSeconds += nanoseconds / 1_000_000_000
        nanoseconds %= 1_000_000_000
        var deadline = timespec(tv_sec: Int(wholeSeconds), tv_nsec: Int(nanoseconds))
        return pthread_cond_timedwait(condition.pointer, mutex, &deadline) != ETIMEDOUT
    }
}

/// A condition variable on the monotonic clock, waited on with a Lock.
public final class Condition: @unchecked Sendable {
    // @unchecked: like Lock, the object only owns the condition variable.
    let pointer: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(pointer, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(pointer)
        pointer.deallocate()
    }

    public func signal() { pthread_cond_signal(pointer) }
    public func broadcast() { pthread_cond_broadcast(pointer) }
}
