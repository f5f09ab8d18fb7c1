// A fixed set of threads running jobs first in, first out. The delivery pool
// is one (a thread per SMTP delivery in flight, `--concurrency` of them, with
// `--queue-length` jobs allowed to wait); the request workers that decode
// bodies are another. Jobs carry their destination (the host they deliver to)
// for the per-destination limits to come; the order is FIFO for now.

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
    private let lock = Lock()
    private let available = Condition()
    private var queue: [Job] = []
    private var head = 0
    private var busy = 0

    /// Starts `threads` threads (fewer when the system has no more to give).
    public init(threads: Int, capacity: Int?, stackSize: Int = 1 << 20) {
        self.capacity = capacity.map { max(0, $0) }
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
            if jobs.count == 1 { available.signal() } else { available.broadcast() }
            return true
        }
    }

    /// Jobs running now.
    public var running: Int { lock.withLock { busy } }

    private func work() {
        while true {
            let job: Job = lock.withLock {
                while head == queue.count { lock.wait(on: available) }
                let next = queue[head]
                head += 1
                if head > 1024 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                busy += 1
                return next
            }
            job.run()
            lock.withLock { busy -= 1 }
        }
    }
}
