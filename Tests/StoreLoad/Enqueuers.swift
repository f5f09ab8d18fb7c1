// The enqueue load: CLIENTS threads sharing COUNT enqueues, each id printed
// once its commit returned. Outside main.swift so that the thread bodies are
// not main-actor code.

import QmailRemoteHTTP
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

func runEnqueuers(store: DeliveryStore, clients: Int, count: Int, size: Int, stopOnError: Bool) {
    let next = Counter()
    let started = monotonic()
    var threads: [pthread_t] = []
    for _ in 0..<clients {
        var thread = pthread_t()
        let work = Unmanaged.passRetained(
            Box {
                while next.take(below: count) != nil {
                    let id = DeliveryID.generate()
                    let delivery = NewDelivery(
                        id: id, scope: .anonymous, sender: Array("load@example.org".utf8), host: nil,
                        recipients: [
                            QueuedRecipient(address: Array("a@example.com".utf8), host: Array("example.com".utf8)),
                            QueuedRecipient(address: Array("b@example.net".utf8), host: Array("example.net".utf8)),
                        ], message: .bytes(message(for: id, size: size)))
                    do throws(StoreError) {
                        try store.enqueue(delivery, now: Int64(time(nil)))
                        say("ok \(id)")
                        next.succeeded()
                    } catch {
                        say("error \(error.kind) \(error)")
                        if stopOnError { next.stop() }
                        usleep(10_000)
                    }
                }
            })
        pthread_create(
            &thread, nil,
            { context in
                Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().work()
                return nil
            }, work.toOpaque())
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
    let seconds = monotonic() - started
    let done = next.successes
    say("enqueued \(done) in \(Int(seconds * 1000)) ms: \(Int(Double(done) / seconds))/s", to: 2)
}

final class Box: @unchecked Sendable {
    // @unchecked: handed to one thread, which alone calls it.
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}

/// Hands out numbers below a limit across threads.
final class Counter: Sendable {
    private struct State {
        var given = 0
        var stopped = false
        var successes = 0
    }
    private let state = Mutex(State())

    var successes: Int { state.withLock { $0.successes } }

    func take(below limit: Int) -> Int? {
        state.withLock { state in
            guard !state.stopped, state.given < limit else { return nil }
            state.given += 1
            return state.given
        }
    }

    func succeeded() { state.withLock { $0.successes += 1 } }
    func stop() { state.withLock { $0.stopped = true } }
}
