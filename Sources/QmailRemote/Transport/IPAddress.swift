// An IPv4 address, as found in DNS answers, smtproutes and host arguments,
// and its dotted text for reports. Parsing accepts only the strict dotted
// quad (four decimal numbers 0-255), never inet_aton's short forms.

public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The four bytes in network order.
    public let bytes: (UInt8, UInt8, UInt8, UInt8)

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        bytes = (a, b, c, d)
    }

    /// The address in network byte order, as `in_addr.s_addr` holds it.
    public var networkOrder: UInt32 {
        UInt32(bytes.0) | UInt32(bytes.1) << 8 | UInt32(bytes.2) << 16 | UInt32(bytes.3) << 24
    }

    public init(networkOrder value: UInt32) {
        self.init(UInt8(value & 0xff), UInt8(value >> 8 & 0xff),
                  UInt8(value >> 16 & 0xff), UInt8(value >> 24))
    }

    /// `a.b.c.d`, each part 0-255 in decimal, nothing else.
    public init?(dotted text: some Collection<UInt8>) {
        var parts: [UInt8] = []
        var value = -1
        for byte in text {
            if byte == UInt8(ascii: ".") {
                if value < 0 || parts.count == 3 { return nil }
                parts.append(UInt8(value))
                value = -1
            } else if byte >= 48 && byte <= 57 {
                value = (value < 0 ? 0 : value * 10) + Int(byte - 48)
                if value > 255 { return nil }
            } else {
                return nil
            }
        }
        if value < 0 || parts.count != 3 { return nil }
        self.init(parts[0], parts[1], parts[2], UInt8(value))
    }

    public init?(dotted text: String) { self.init(dotted: Array(text.utf8)) }

    /// `a.b.c.d` or `[a.b.c.d]`.
    public init?(literal text: some Collection<UInt8>) {
        let bytes = Array(text)
        if bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]"), bytes.count > 2 {
            self.init(dotted: bytes[1..<(bytes.count - 1)])
        } else {
            self.init(dotted: bytes)
        }
    }

    public var description: String { "\(bytes.0).\(bytes.1).\(bytes.2).\(bytes.3)" }

    public static func == (lhs: IPAddress, rhs: IPAddress) -> Bool {
        lhs.networkOrder == rhs.networkOrder
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(networkOrder) }

    /// 0.0.0.0, which qmail counts among this machine's addresses.
    public static let any = IPAddress(0, 0, 0, 0)
}
