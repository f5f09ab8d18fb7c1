// Decides, once, whether one delivery's final dot may be sent: the delivery
// asks right before writing it, the drain closes the gate when the deadline
// nears. Whichever comes first wins, so the gateway always knows whether a
// delivery it gives up on could have been delivered.

import Synchronization

final class FinalDotGate: Sendable {
    private static let open: UInt8 = 0
    private static let committed: UInt8 = 1
    private static let closed: UInt8 = 2
    private let state = Atomic<UInt8>(FinalDotGate.open)

    /// The delivery is about to write its dot: true lets it (from then on the message may be delivered).
    func commit() -> Bool {
        let (exchanged, original) = state.compareExchange(
            expected: Self.open, desired: Self.committed, ordering: .sequentiallyConsistent)
        return exchanged || original == Self.committed
    }

    /// No dot from now on: true if none was sent (or ever will be).
    @discardableResult
    func close() -> Bool {
        let (exchanged, original) = state.compareExchange(
            expected: Self.open, desired: Self.closed, ordering: .sequentiallyConsistent)
        return exchanged || original == Self.closed
    }

    var isClosed: Bool { state.load(ordering: .sequentiallyConsistent) == Self.closed }
}
