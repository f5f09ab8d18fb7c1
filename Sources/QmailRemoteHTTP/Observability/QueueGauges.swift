// The queue as /metrics shows it: the last reading of the store's gauges and
// counters (taken by the queue's scheduler about once a second, so that
// /metrics never waits for the store), whether the store answered, and the
// jobs this gateway holds. Written through Telemetry, read by Metrics.

import QmailSupport

public final class QueueGauges: @unchecked Sendable {
    // @unchecked: every field below is read and written under `lock` only.
    public struct Reading: Sendable {
        /// The store's last answer; nil before the first one.
        public var metrics: QueueMetrics?
        /// The last attempt to read the store succeeded.
        public var storeUp = true
        /// Jobs this gateway has claimed and not yet recorded.
        public var claimed = 0
    }

    private let lock = Lock()
    private var reading = Reading()

    public init() {}

    public var current: Reading { lock.withLock { reading } }

    func update(_ change: (inout Reading) -> Void) { lock.withLock { change(&reading) } }
}
