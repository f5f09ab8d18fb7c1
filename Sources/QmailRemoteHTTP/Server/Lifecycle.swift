// Where the gateway is in its life, in one place: running, draining (no new
// requests, /healthz says 503), and, near the drain deadline, no more final
// dots. Everyone who must behave differently while stopping asks here.

import Synchronization

public final class Lifecycle: Sendable {
    private let draining = Atomic<Bool>(false)
    private let dotsStopped = Atomic<Bool>(false)

    public init() {}

    public var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }
    /// No delivery may send its final dot any more.
    public var finalDotsStopped: Bool { dotsStopped.load(ordering: .sequentiallyConsistent) }

    public func beginDraining() { draining.store(true, ordering: .sequentiallyConsistent) }
    public func stopFinalDots() { dotsStopped.store(true, ordering: .sequentiallyConsistent) }
}
