// A point in time on the monotonic clock, for waits that restart after a
// signal without starting their timeout over.

#if canImport(Glibc)
import Glibc
#endif

struct Deadline {
    private let end: Int64

    init(milliseconds: Int32) {
        end = Deadline.now() + Int64(milliseconds)
    }

    var remainingMilliseconds: Int32 {
        let left = end - Deadline.now()
        return left <= 0 ? 0 : Int32(clamping: left)
    }

    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
