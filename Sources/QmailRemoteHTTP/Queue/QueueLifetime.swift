// control/queuelifetime, as qmail-send reads it (seconds; 604800 when the
// file is missing or does not start with a number), re-read at most once a
// second like the other control files, and the retry schedule built on it.

import QmailSupport

final class QueueLifetime: @unchecked Sendable {
    // @unchecked: `cached` is read and written under `lock` only.
    private let path: String
    private let base: Int64
    private let lock = Lock()
    private var cached: (loaded: Double, schedule: RetrySchedule)?

    init(controlDirectory: String, retryBase: Int64) {
        path = controlDirectory + "/queuelifetime"
        base = retryBase
    }

    /// The schedule now: --retry-base and the control file's lifetime. An
    /// unreadable file counts as missing (qmail-send would not start; a queue
    /// that keeps retrying is the safer failure here).
    func schedule() -> RetrySchedule {
        let now = Clock.seconds()
        return lock.withLock {
            if let cached, now - cached.loaded < 1 { return cached.schedule }
            let fallback = Int(RetrySchedule.defaultQueueLifetime)
            let seconds = (try? ControlFile.number(at: path, fallback: fallback)) ?? fallback
            let schedule = RetrySchedule(base: base, queueLifetime: Int64(seconds))
            cached = (now, schedule)
            return schedule
        }
    }
}
