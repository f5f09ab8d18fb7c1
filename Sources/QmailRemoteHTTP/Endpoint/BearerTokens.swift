// Who a request is (RFC 6750 bearer tokens, or a client certificate's
// subject standing for a token): the token file's entry it matches. A
// bearer token is hashed once and its hash compared with every entry's, in
// full, in constant time, so the file may hold hashes only.

import QmailSupport

public struct BearerTokens: Sendable {
    public let entries: [TokenPolicy]
    private let hashes: [(digest: [UInt8], index: Int)]

    public init(_ entries: [TokenPolicy]) {
        self.entries = entries
        hashes = entries.enumerated().compactMap { index, entry in
            if case .tokenHash(let digest) = entry.credential { return (digest, index) }
            return nil
        }
    }

    /// No entries: everyone is let in (the gateway then listens on loopback
    /// only, or asks for client certificates).
    public var isEmpty: Bool { entries.isEmpty }

    /// The entry an `Authorization: Bearer` header names, if any.
    public func entry(for authorization: String?) -> TokenPolicy? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let offered = SHA256.digest(Array(FramingCheck.trimmed(String(parts[1])).utf8))
        var found: Int?
        for (digest, index) in hashes {
            var difference: UInt8 = 0
            for position in 0..<32 { difference |= digest[position] ^ offered[position] }
            if difference == 0 && found == nil { found = index }
        }
        return found.map { entries[$0] }
    }

    /// The entry a verified client certificate's subject stands for, if any.
    public func entry(forSubject subject: String) -> TokenPolicy? {
        entries.first { $0.credential == .certificateSubject(subject) }
    }
}
