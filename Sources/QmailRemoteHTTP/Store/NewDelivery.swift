// A delivery handed to the queue: who queued it (scope), the envelope, the
// host each recipient goes to (the caller's grouping: the request's host, or
// each recipient's domain), and the message, in memory or in a file the
// caller holds open. Not the claim a worker gets back (ClaimedJob).

#if canImport(Glibc)
import Glibc
#endif

public struct NewDelivery: Sendable {
    public let id: String
    public let scope: StoreScope
    public let sender: [UInt8]
    /// The request's `host`, if it named one (kept for the status).
    public let host: [UInt8]?
    public let recipients: [QueuedRecipient]
    public let message: MessageBody

    public init(
        id: String, scope: StoreScope, sender: [UInt8], host: [UInt8]?, recipients: [QueuedRecipient],
        message: MessageBody
    ) {
        self.id = id
        self.scope = scope
        self.sender = sender
        self.host = host
        self.recipients = recipients
        self.message = message
    }
}

public struct QueuedRecipient: Sendable, Equatable {
    public let address: [UInt8]
    /// Where this recipient is delivered; recipients with the same host are
    /// delivered together, in one SMTP session.
    public let host: [UInt8]

    public init(address: [UInt8], host: [UInt8]) {
        self.address = address
        self.host = host
    }
}

public enum MessageBody: Sendable {
    case bytes([UInt8])
    /// `size` bytes from offset 0 of an open descriptor (a spooled request
    /// body); read with pread, never closed by the store.
    case file(descriptor: Int32, size: Int)
}

/// Delivery ids: 32 lowercase hex digits, the time in milliseconds (12 digits,
/// so ids sort by age and land at the end of the store's indexes instead of on
/// random pages) then 80 random bits from getrandom(2).
public enum DeliveryID {
    public static func generate() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let milliseconds = UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
        var random = SystemRandomNumberGenerator()
        let high = random.next() as UInt64
        let low = random.next() as UInt16
        return hex(milliseconds, digits: 12) + hex(high, digits: 16) + hex(UInt64(low), digits: 4)
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let alphabet = Array("0123456789abcdef")
        return String((0..<digits).reversed().map { alphabet[Int(value >> (UInt64($0) * 4) & 0xf)] })
    }

    /// What the store accepts as an id (it also names a file beside a SQLite database).
    public static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) || (0x41...0x5a).contains($0) || $0 == 0x2d
                    || $0 == 0x5f
            }
    }
}
