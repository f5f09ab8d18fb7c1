// The one clock for deadlines and idle times: CLOCK_MONOTONIC, as a Duration
// since an arbitrary start (the same clock Lock's timed waits use). Not
// ContinuousClock: that lives in Swift's concurrency library, and using it
// links that library and libdispatch, with their start-up initializers, into
// qmail-remote, which starts once per message.

#if canImport(Glibc)
import Glibc
#endif

public enum MonotonicClock {
    public static var now: Duration {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }
}
