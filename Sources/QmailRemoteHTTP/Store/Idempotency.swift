// The values of idempotency keys (draft-ietf-httpapi-idempotency-key-header):
// a key lives in a scope (the SHA-256 of the bearer token or of a client
// certificate's subject, or one fixed scope without tokens), remembers the
// request's fingerprint, and once answered, the answer to replay byte for
// byte. The store never sees a token.

import QmailSupport

/// 32 bytes naming whose keys and deliveries these are.
public struct StoreScope: Sendable, Equatable, Hashable {
    public let bytes: [UInt8]

    /// The scope of a bearer token: its SHA-256.
    public init(token: [UInt8]) { bytes = SHA256.digest(token) }

    /// The scope of a bearer token known by its SHA-256 only (the token file may hold just that).
    public init(tokenHash: [UInt8]) { bytes = tokenHash }

    /// The scope of a client certificate's subject standing for a token: a
    /// hash no bearer token has (a token never holds a NUL byte).
    public init(certificateSubject: String) {
        bytes = SHA256.digest(Array("\0certificate-subject\0".utf8) + Array(certificateSubject.utf8))
    }

    /// Requests without a token (a gateway configured with none).
    public static let anonymous = StoreScope(bytes: [UInt8](repeating: 0, count: 32))

    init(bytes: [UInt8]) { self.bytes = bytes }
}

/// A stored final answer: status, the headers worth replaying, the body.
public struct StoredAnswer: Sendable, Equatable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func == (left: StoredAnswer, right: StoredAnswer) -> Bool {
        left.status == right.status && left.body == right.body
            && left.headers.map(\.name) == right.headers.map(\.name)
            && left.headers.map(\.value) == right.headers.map(\.value)
    }

    var encodedHeaders: [UInt8] {
        FieldCodec.encode(headers.flatMap { [Array($0.name.utf8), Array($0.value.utf8)] })
    }

    static func decodeHeaders(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        let fields = FieldCodec.decode(bytes)
        return stride(from: 0, to: fields.count - 1, by: 2).map {
            (String(decoding: fields[$0], as: UTF8.self), String(decoding: fields[$0 + 1], as: UTF8.self))
        }
    }
}

/// What `beginIdempotentRequest` found.
public enum IdempotencyBegin: Sendable, Equatable {
    /// The key is now recorded as in progress, owned by this caller: run the
    /// request, then finish (or abandon) it.
    case new
    /// Another request with this key is running (409 request_in_progress).
    case inProgress
    /// Answered before, with the same fingerprint: send this again.
    case replay(StoredAnswer)
    /// The key was used for a different request (422 idempotency_key_reused).
    case mismatch
}

/// An answer to store with the key in the same transaction as the queued
/// delivery, so that a key is never answered without its delivery or the
/// reverse.
public struct IdempotencyCompletion: Sendable {
    public let scope: StoreScope
    public let key: String
    public let answer: StoredAnswer

    public init(scope: StoreScope, key: String, answer: StoredAnswer) {
        self.scope = scope
        self.key = key
        self.answer = answer
    }
}
