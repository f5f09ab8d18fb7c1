// Monotonic seconds, for durations in metrics and logs; wall-clock seconds
// since the epoch, for what is stored and shared (queue times, leases, keys).

#if canImport(Glibc)
import Glibc
#endif

enum Clock {
    static func seconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    static func epochSeconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }
}

extension Clock {
    /// The local time's offset east of UTC at `epochSeconds` (the TZ
    /// environment or /etc/localtime), for the Date of a message.
    static func utcOffsetSeconds(at epochSeconds: Int64) -> Int {
        var time = time_t(epochSeconds)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff)
    }
}
