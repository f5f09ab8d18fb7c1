// A token's rate (`rate=600/min burst=N`) as a token bucket: `burst` requests
// at once (the rate's count when not given), refilled at count/window a
// second. RateLimiter keeps one bucket per token; each delivery request
// takes one unit (a retry answered from its Idempotency-Key gives it back).
// The answer's RateLimit and RateLimit-Policy fields follow
// draft-ietf-httpapi-ratelimit-headers (policy "token": q units per w
// seconds; r left now, t seconds until the next one).

import QmailSupport

public struct RateLimit: Sendable, Equatable {
    public let count: Int
    public let windowSeconds: Int
    public let burst: Int

    /// `N/s`, `N/min`, `N/h` or `N/day` (also `sec`, `second`, `minute`, `hour`).
    init?(_ text: String, burst: Int?) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[0]), count > 0, count <= 1_000_000_000 else { return nil }
        let window: Int
        switch parts[1].lowercased() {
        case "s", "sec", "second": window = 1
        case "m", "min", "minute": window = 60
        case "h", "hour": window = 3600
        case "d", "day": window = 86400
        default: return nil
        }
        if let burst, burst < 1 { return nil }
        self.count = count
        windowSeconds = window
        self.burst = burst ?? count
    }

    var perSecond: Double { Double(count) / Double(windowSeconds) }

    var policyField: String { "\"token\";q=\(count);w=\(windowSeconds)" }
}

public final class RateLimiter: @unchecked Sendable {
    // @unchecked: `buckets` is read and written under `lock` only.
    private let lock = Lock()
    private var buckets: [String: (level: Double, at: Double)] = [:]

    public init() {}

    public struct Decision: Sendable, Equatable {
        public let allowed: Bool
        /// Whole units left after this request.
        public let remaining: Int
        /// Seconds until one more unit is there (0 when the bucket is full).
        public let resetSeconds: Int
    }

    /// Takes one unit from the bucket named `key`, if there is one.
    func take(_ key: String, _ limit: RateLimit, now: Double = Clock.seconds()) -> Decision {
        change(key, limit, now: now) { level in
            guard level >= 1 else { return false }
            level -= 1
            return true
        }
    }

    /// Puts back a unit `take` took (a request that was a retry of one
    /// already counted), never above the burst.
    func giveBack(_ key: String, _ limit: RateLimit, now: Double = Clock.seconds()) -> Decision {
        change(key, limit, now: now) { level in
            level = min(Double(limit.burst), level + 1)
            return true
        }
    }

    private func change(
        _ key: String, _ limit: RateLimit, now: Double, _ body: (inout Double) -> Bool
    ) -> Decision {
        lock.withLock {
            var (level, at) = buckets[key] ?? (Double(limit.burst), now)
            level = min(Double(limit.burst), level + max(0, now - at) * limit.perSecond)
            let allowed = body(&level)
            buckets[key] = (level, now)
            // The next whole unit arrives when the fraction reaches 1; none while the bucket is full.
            let full = level >= Double(limit.burst)
            let wait = full ? 0 : (1 - (level - level.rounded(.down))) / limit.perSecond
            return Decision(allowed: allowed, remaining: Int(level), resetSeconds: Int(wait.rounded(.up)))
        }
    }

    /// The fields every answer to a limited request carries.
    static func fields(_ limit: RateLimit, _ decision: Decision) -> [(name: String, value: String)] {
        [
            ("RateLimit-Policy", limit.policyField),
            ("RateLimit", "\"token\";r=\(decision.remaining);t=\(decision.resetSeconds)"),
        ]
    }
}
