// A fixed set of threads running jobs first in, first out. The delivery pool
// is one (a thread per SMTP delivery in flight, `--concurrency` of them, with
// `--queue-length` jobs allowed to wait); the request workers that decode
// bodies are another. Jobs carry their destination (the host they deliver
// to): with a per-destination limit, a job whose destination already has
// that many running waits, and the first job in line for another destination
// runs instead (Postfix's destination concurrency limit).

import QmailSupport

public final class WorkerPool: @unchecked Sendable {
    // @unchecked: every field below is read and written under `lock` only.
    public struct Job: Sendable {
        public let destination: [UInt8]?
        public let run: @Sendable () -> Void

        public init(destination: [UInt8]? = nil, run: @escaping @Sendable () -> Void) {
            self.destination = destination
            self.run = run
        }
    }

    public private(set) var threads = 0
    /// Jobs that may wait for a thread; nil: no limit.
    public let capacity: Int?
    /// Jobs running at once for one destination; nil: no limit.
    public let perDestination: Int?
    private let lock = Lock()
    private let available = Condition()
    private var queue: [Job] = []
    private var head = 0
    private var busy = 0
    private var runningFor: [[UInt8]: Int] = [:]

    /// Starts `threads` threads (fewer when the system has no more to give).
    public init(threads: Int, capacity: Int?, perDestination: Int? = nil, stackSize: Int = 1 << 20) {
        self.capacity = capacity.map { max(0, $0) }
        self.perDestination = perDestination.map { max(1, $0) }
        var started = 0
        for _ in 0..<max(1, threads) where Threads.start(stackSize: stackSize, { self.work() }) {
            started += 1
        }
        lock.withLock { self.threads = started }
    }

    /// Queues all the jobs or none: refused when more would wait than the capacity allows.
    public func submit(_ jobs: [Job]) -> Bool {
        lock.withLock {
            let pending = queue.count - head
            let waiting = pending + jobs.count - max(0, threads - busy)
            if let capacity, waiting > capacity { return false }
            queue.append(contentsOf: jobs)
            // One thread woken per job: a woken thread that finds nothing it may run waits again.
            for _ in jobs { available.signal() }
            return true
        }
    }

    /// Jobs running now.
    public var running: Int { lock.withLock { busy } }

    /// Jobs running now for `destination`.
    public func running(for destination: [UInt8]) -> Int { lock.withLock { runningFor[destination, default: 0] } }

    /// Under the lock: the position of the first job that may run now.
    private func nextRunnable() -> Int? {
        guard let limit = perDestination else { return head < queue.count ? head : nil }
        for index in head..<queue.count {
            guard let destination = queue[index].destination else { return index }
            if runningFor[destination, default: 0] < limit { return index }
        }
        return nil
    }

    private func work() {
        while true {
            let job: Job = lock.withLock {
                var index = nextRunnable()
                while index == nil {
                    lock.wait(on: available)
                    index = nextRunnable()
                }
                let next: Job
                if index == head {
                    next = queue[head]
                    head += 1
                    if head > 1024 && head * 2 > queue.count {
                        queue.removeFirst(head)
                        head = 0
                    }
                } else {
                    next = queue.remove(at: index!)
                }
                busy += 1
                if let destination = next.destination { runningFor[destination, default: 0] += 1 }
                return next
            }
            job.run()
            lock.withLock {
                busy -= 1
                // A job held back for this destination may run now: this
                // thread looks for it first thing, so no other is woken (with
                // many held back, waking every idle thread to scan them all
                // cost a twentieth of the gateway's CPU).
                if let destination = job.destination {
                    let left = runningFor[destination, default: 1] - 1
                    runningFor[destination] = left > 0 ? left : nil
                }
            }
        }
    }
}
