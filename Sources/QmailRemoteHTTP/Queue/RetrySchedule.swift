// qmail-send's schedule for remote deliveries, as a pure value. When an
// attempt starts at `t` for a message queued at `birth`, its retry (should
// it be deferred) is due at birth + (⌊√(t − birth)⌋ + base)², as nextretry()
// computes with chanskip 20: attempts on time give 400 s, 1600 s, 3600 s, ...
// An attempt started after birth + queuelifetime that is deferred fails.

public struct RetrySchedule: Sendable, Equatable {
    /// qmail's chanskip for the remote channel (--retry-base).
    public let base: Int64
    /// control/queuelifetime: seconds after queuing when deferral turns into failure.
    public let queueLifetime: Int64

    public static let defaultBase: Int64 = 20
    public static let defaultQueueLifetime: Int64 = 604_800
    /// The text qmail-send appends to a deferral past the queue lifetime.
    public static let tooLongText = "I'm not going to try again; this message has been in the queue too long.\n"

    public init(base: Int64 = defaultBase, queueLifetime: Int64 = defaultQueueLifetime) {
        self.base = base
        self.queueLifetime = queueLifetime
    }

    /// When to retry a recipient deferred by an attempt that started at `attemptStart`.
    public func nextAttempt(queuedAt birth: Int64, attemptStart: Int64) -> Int64 {
        let n = (attemptStart < birth ? 0 : Self.squareRoot(attemptStart - birth)) + base
        return birth + n * n
    }

    /// Whether a deferral from an attempt started at `attemptStart` is final.
    public func givesUp(queuedAt birth: Int64, attemptStart: Int64) -> Bool {
        attemptStart > birth + queueLifetime
    }

    /// ⌊√x⌋ for x ≥ 0, exactly, in integers.
    static func squareRoot(_ x: Int64) -> Int64 {
        guard x > 0 else { return 0 }
        var root = Int64(Double(x).squareRoot())
        while root * root > x { root -= 1 }
        while (root + 1) * (root + 1) <= x { root += 1 }
        return root
    }
}
