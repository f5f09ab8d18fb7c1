// Runs blocking jobs on threads of their own and waits for all of them: each
// SMTP conversation blocks for as long as its deadlines allow, so a thread
// pool sized to the CPUs would serialize slow domains.

#if canImport(Glibc)
import Glibc
#endif

enum DeliveryThreads {
    /// Runs every job at once (the first on the calling thread); returns
    /// their results in job order when all are done.
    static func runAll<Result: Sendable>(_ jobs: [@Sendable () -> Result]) -> [Result] {
        guard jobs.count > 1 else { return jobs.map { $0() } }
        let boxes = jobs.dropFirst().map { ResultBox<Result>(job: $0) }
        var threads: [pthread_t] = []
        for box in boxes {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(box).toOpaque()
            if pthread_create(
                &thread, nil,
                { raw in
                    let box = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! any RunnableBox
                    box.run()
                    return nil
                }, context) == 0
            {
                threads.append(thread)
            } else {
                Unmanaged<ResultBox<Result>>.fromOpaque(context).release()
                box.run()  // no thread to be had: run it here rather than lose it
            }
        }
        let first = jobs[0]()
        for thread in threads { pthread_join(thread, nil) }
        return [first] + boxes.map { $0.result! }
    }
}

private protocol RunnableBox: AnyObject { func run() }

private final class ResultBox<Result: Sendable>: RunnableBox, @unchecked Sendable {
    // @unchecked: `result` is written by the one thread that runs the job and
    // read only after pthread_join has returned for that thread.
    let job: @Sendable () -> Result
    var result: Result?

    init(job: @escaping @Sendable () -> Result) { self.job = job }

    func run() { result = job() }
}
