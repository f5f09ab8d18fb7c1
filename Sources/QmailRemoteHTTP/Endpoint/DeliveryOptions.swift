// How a client wants its delivery handled, read from the request head:
// `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header: 1-255
// printable ASCII characters, bare or as a structured-field string) and
// `Prefer: respond-async` (RFC 7240). Whose keys and deliveries these are is
// the Access's scope; what happens next is DeliveryIntake's.

public struct DeliveryOptions: Sendable, Equatable {
    /// The request's idempotency key, if it sent one.
    public var idempotencyKey: String?
    /// Answer 202 once the delivery is queued, instead of after delivering it.
    public var respondAsync: Bool

    public init(idempotencyKey: String? = nil, respondAsync: Bool = false) {
        self.idempotencyKey = idempotencyKey
        self.respondAsync = respondAsync
    }

    /// Neither a key nor a queue: the delivery never touches the store.
    public static let immediate = DeliveryOptions()

    public var needsStore: Bool { idempotencyKey != nil || respondAsync }

    /// Reads the two headers; an unusable key is 400 invalid_idempotency_key.
    public init(head: RequestHead) throws(APIError) {
        let keys = head.values("Idempotency-Key")
        if keys.count > 1 { throw .invalidIdempotencyKey("send one Idempotency-Key header, not \(keys.count)") }
        let key = try keys.first.map { value throws(APIError) in try Self.key(value) }
        let respondAsync = head.values("Prefer").contains { Self.preferences($0).contains("respond-async") }
        self.init(idempotencyKey: key, respondAsync: respondAsync)
    }

    static let maxKeyLength = 255

    /// The key itself: the text of a quoted string (`"abc"`, with `\"` and
    /// `\\`), or the value as sent.
    static func key(_ value: String) throws(APIError) -> String {
        var bytes = Array(value.utf8)
        if bytes.first == UInt8(ascii: "\"") {
            guard bytes.count >= 2, bytes.last == UInt8(ascii: "\"") else {
                throw .invalidIdempotencyKey("the Idempotency-Key's quoted string is not closed")
            }
            var inner: [UInt8] = []
            var index = 1
            while index < bytes.count - 1 {
                var byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    throw .invalidIdempotencyKey("the Idempotency-Key has a quote inside its quoted string")
                }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count - 1,
                        bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "\\")
                    else { throw .invalidIdempotencyKey("the Idempotency-Key has a \\ before neither \" nor \\") }
                    byte = bytes[index]
                }
                inner.append(byte)
                index += 1
            }
            bytes = inner
        }
        guard !bytes.isEmpty, bytes.count <= maxKeyLength else {
            throw .invalidIdempotencyKey("an Idempotency-Key has 1 to \(maxKeyLength) characters, not \(bytes.count)")
        }
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            throw .invalidIdempotencyKey("an Idempotency-Key is printable ASCII only")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The preference names in one Prefer header value, lowercased:
    /// `respond-async, wait=10; x="a,b"` gives ["respond-async", "wait"].
    static func preferences(_ value: String) -> [String] {
        var names: [String] = []
        var current: [UInt8] = []
        var quoted = false
        var escaped = false
        for byte in Array(value.utf8) + [UInt8(ascii: ",")] {
            if quoted {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    quoted = false
                }
                current.append(byte)
            } else if byte == UInt8(ascii: ",") {
                let name = current.prefix { $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: ";") }
                let text = String(decoding: name, as: UTF8.self)
                let trimmed = FramingCheck.trimmed(text).lowercased()
                if !trimmed.isEmpty { names.append(trimmed) }
                current = []
            } else {
                if byte == UInt8(ascii: "\"") { quoted = true }
                current.append(byte)
            }
        }
        return names
    }
}
