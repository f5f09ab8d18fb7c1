// Bearer tokens (RFC 6750): whether an Authorization header carries one of
// the configured tokens. Every token is compared in full, in constant time.

public struct BearerTokens: Sendable {
    private let tokens: [[UInt8]]

    public init(_ tokens: [String]) { self.tokens = tokens.map { Array($0.utf8) } }

    /// No tokens configured: everyone is let in (the gateway then listens on loopback only).
    public var isEmpty: Bool { tokens.isEmpty }

    public func admit(_ authorization: String?) -> Bool {
        if tokens.isEmpty { return true }
        guard let offered = Self.offered(in: authorization) else { return false }
        var match = false
        for expected in tokens {
            var difference = UInt8(expected.count == offered.count ? 0 : 1)
            for index in 0..<expected.count {
                difference |= expected[index] ^ (index < offered.count ? offered[index] : 0)
            }
            match = match || difference == 0
        }
        return match
    }

    /// The token in `Authorization: Bearer <token>`, whether configured or not.
    public static func offered(in authorization: String?) -> [UInt8]? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return Array(parts[1].utf8)
    }
}
