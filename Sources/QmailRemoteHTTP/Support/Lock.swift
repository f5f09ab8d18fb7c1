// A pthread mutex. Under contention it parks the waiting thread, where
// Synchronization.Mutex spins first: with a thread per HTTP connection on two
// cores, spinning burned a fifth of the gateway's CPU.

#if canImport(Glibc)
import Glibc
#endif

final class Lock: @unchecked Sendable {
    // @unchecked: the mutex itself is the synchronization; it is never moved
    // (heap-allocated, owned by this object).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Inside `withLock` only: releases the lock while waiting on `condition`.
    func wait(on condition: Condition) {
        pthread_cond_wait(condition.pointer, mutex)
    }
}

/// A pthread condition variable, waited on with a Lock.
final class Condition: @unchecked Sendable {
    // @unchecked: like Lock, the object only owns the condition variable.
    let pointer: UnsafeMutablePointer<pthread_cond_t>

    init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: pthread_cond_t())
        pthread_cond_init(pointer, nil)
    }

    deinit {
        pthread_cond_destroy(pointer)
        pointer.deallocate()
    }

    func signal() { pthread_cond_signal(pointer) }
}

extension Condition {
    func broadcast() { pthread_cond_broadcast(pointer) }
}
