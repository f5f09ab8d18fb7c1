// Monotonic seconds, for durations in metrics and logs.

#if canImport(Glibc)
import Glibc
#endif

enum Clock {
    static func seconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
