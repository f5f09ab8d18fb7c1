// What a DKIM signature put on a message says about itself: the report's
// `signatures`, the gateway's `"dkim"` entries. Not the signature itself.

public struct DKIMSignatureSummary: Sendable, Equatable {
    /// d=: the signing domain.
    public let domain: String
    /// s=: the selector.
    public let selector: String
    /// a=: `rsa-sha256` or `ed25519-sha256`.
    public let algorithm: String

    public init(domain: String, selector: String, algorithm: String) {
        self.domain = domain
        self.selector = selector
        self.algorithm = algorithm
    }
}
