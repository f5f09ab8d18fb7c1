// Work a worker claimed: the recipients of one delivery still to be tried at
// one host, with the envelope, the message and the lease that makes this
// worker the only one trying them until it expires. What a worker reports
// back is a DeliveryReport (DeliveryStore.recordAttempt).

public struct ClaimedJob: Sendable {
    public let deliveryID: String
    public let host: [UInt8]
    public let sender: [UInt8]
    public let queuedAt: Int64
    /// This attempt's number, from 1.
    public let attempt: Int64
    /// When this attempt started (the claim): the schedule counts from it.
    public let startedAt: Int64
    /// Pending or deferred recipients, in request order.
    public let recipients: [ClaimedRecipient]
    public let message: StoredBody
    /// This claim's owner: the worker's name and a token of the claim.
    public let worker: String
    /// An earlier attempt wrote the final dot and never learned the answer:
    /// this one may deliver a second copy.
    public let possibleDuplicate: Bool
}

public struct ClaimedRecipient: Sendable, Equatable {
    /// Index in the delivery's recipient list.
    public let position: Int
    public let address: [UInt8]
}

public enum StoredBody: Sendable, Equatable {
    case inline([UInt8])
    /// A file beside a SQLite database; it exists until the delivery is removed.
    case file(path: String)
}

/// What became of `recordAttempt`.
public enum AttemptRecording: Sendable, Equatable {
    case recorded(AttemptOutcome)
    /// The lease had expired and another worker took the job: nothing recorded.
    case leaseLost
}

public enum AttemptOutcome: String, Sendable, CaseIterable {
    case delivered, deferred, failed, mixed
    /// A worker died during the attempt after writing the final dot.
    case interrupted
}
