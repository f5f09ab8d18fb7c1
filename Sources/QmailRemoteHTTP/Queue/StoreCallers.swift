// Threads that make the store's blocking calls (idempotency keys, enqueues,
// status reads, recording attempts) for requests and queue attempts, so that
// neither libmicrohttpd's thread, the request workers nor the delivery
// threads wait for a commit. Started as they are needed, up to a limit, and
// kept: many callers waiting at once is what lets their writes share commits.

import QmailSupport

final class StoreCallers: @unchecked Sendable {
    // @unchecked: every field below is read and written under `lock` only.
    private let lock = Lock()
    private let available = Condition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var started = 0
    private var idle = 0
    let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `work` on one of the threads, first in, first out.
    func submit(_ work: @escaping @Sendable () -> Void) {
        let startThread: Bool = lock.withLock {
            queue.append(work)
            if idle > 0 { available.signal() }
            guard queue.count - head > idle, started < limit else { return false }
            started += 1
            return true
        }
        guard startThread else { return }
        if !Threads.start(stackSize: 256 << 10, { self.run() }) {
            let none = lock.withLock {
                started -= 1
                return started == 0
            }
            // No thread at all: better the caller waits than the work never runs.
            if none { runWaiting() }
        }
    }

    /// Threads started so far.
    var threads: Int { lock.withLock { started } }

    private func run() {
        while true {
            let work: @Sendable () -> Void = lock.withLock {
                while head == queue.count {
                    idle += 1
                    lock.wait(on: available)
                    idle -= 1
                }
                return take()
            }
            work()
        }
    }

    private func runWaiting() {
        while let work = lock.withLock({ head < queue.count ? take() : nil }) { work() }
    }

    /// Inside the lock: the next work, compacting the queue now and then.
    private func take() -> @Sendable () -> Void {
        let next = queue[head]
        head += 1
        if head > 1024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return next
    }
}
