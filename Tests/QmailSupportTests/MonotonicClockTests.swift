// The one clock: it never goes back, and it keeps time with the system's
// own measure of a sleep (nanosleep, checked against ContinuousClock, which
// tests may use).

import QmailSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct MonotonicClockTests {
    @Test func neverGoesBack() {
        var last = MonotonicClock.now
        for _ in 0..<10_000 {
            let now = MonotonicClock.now
            #expect(now >= last)
            last = now
        }
    }

    @Test func keepsTimeWithASleep() {
        let reference = ContinuousClock()
        let started = (ours: MonotonicClock.now, theirs: reference.now)
        var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
        nanosleep(&pause, nil)
        let ours = MonotonicClock.now - started.ours
        let theirs = started.theirs.duration(to: reference.now)
        #expect(ours >= .milliseconds(50))
        #expect(ours - theirs < .milliseconds(10) && theirs - ours < .milliseconds(10))
    }
}
