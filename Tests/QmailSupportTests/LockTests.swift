// The lock and condition: a timed wait that times out, and one that is
// signalled before its time.

import QmailSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LockTests {
    @Test func timedWaitTimesOut() {
        let lock = Lock()
        let condition = Condition()
        let clock = ContinuousClock()
        let started = clock.now
        let signalled = lock.withLock { lock.wait(on: condition, timeout: .milliseconds(50)) }
        #expect(!signalled)
        #expect(started.duration(to: clock.now) >= .milliseconds(45))
    }

    @Test func signalEndsTheWait() {
        final class Flag: @unchecked Sendable {
            // `set` is guarded by `lock`.
            var set = false
            let lock = Lock()
            let condition = Condition()
        }
        let flag = Flag()
        // The signal comes from a thread of its own: the test's threads are
        // the concurrency pool's, which a blocked wait must not starve.
        var thread = pthread_t()
        let context = Unmanaged.passRetained(flag).toOpaque()
        #expect(
            pthread_create(
                &thread, nil,
                { raw in
                    let flag = Unmanaged<Flag>.fromOpaque(raw!).takeRetainedValue()
                    usleep(20_000)
                    flag.lock.withLock {
                        flag.set = true
                        flag.condition.broadcast()
                    }
                    return nil
                }, context) == 0)
        let clock = ContinuousClock()
        let started = clock.now
        let woken = flag.lock.withLock { () -> Bool in
            while !flag.set {
                if !flag.lock.wait(on: flag.condition, timeout: .seconds(10)) { return false }
            }
            return true
        }
        pthread_join(thread, nil)
        #expect(woken)
        #expect(started.duration(to: clock.now) < .seconds(5))
    }
}
