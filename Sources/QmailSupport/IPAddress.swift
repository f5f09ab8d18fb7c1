// An IP address, IPv4 or IPv6, as found in DNS answers, smtproutes and host
// arguments, and its text for reports (dotted quad; RFC 5952 for IPv6).
// IPv4 parsing accepts only the strict dotted quad, never inet_aton's short
// forms; IPv6 parsing is inet_pton's.

#if canImport(Glibc)
import Glibc
#endif

public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case v4, v6 }

    /// 4 bytes (IPv4) or 16 (IPv6), in network order.
    public let bytes: [UInt8]

    public var family: Family { bytes.count == 4 ? .v4 : .v6 }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        bytes = [a, b, c, d]
    }

    /// Sixteen bytes in network order.
    public init?(v6 bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// The IPv4 address in network byte order, as `in_addr.s_addr` holds it.
    public var networkOrder: UInt32 {
        precondition(family == .v4, "networkOrder is for IPv4 addresses")
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    public init(networkOrder value: UInt32) {
        self.init(UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24))
    }

    /// `a.b.c.d`, each part 0-255 in decimal, nothing else.
    @inlinable public init?(dotted text: some Collection<UInt8>) {
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

    /// IPv6 text as inet_pton takes it (`::1`, `2001:db8::25`, with an
    /// embedded IPv4 tail); no brackets, no zone.
    @inlinable public init?(ipv6 text: some Collection<UInt8>) {
        let bytes = Array(text)
        guard bytes.contains(UInt8(ascii: ":")), bytes.count <= 45,
            bytes.allSatisfy({ $0 < 128 && $0 != 0 })
        else { return nil }
        var address = in6_addr()
        let parsed = (bytes + [0]).withUnsafeBufferPointer { text in
            text.withMemoryRebound(to: CChar.self) { inet_pton(AF_INET6, $0.baseAddress, &address) }
        }
        guard parsed == 1 else { return nil }
        self.bytes = withUnsafeBytes(of: &address) { Array($0) }
    }

    /// A literal as qmail-remote takes it: `a.b.c.d` or `[a.b.c.d]`; with
    /// `ipv6` also `[IPv6:x:y::z]` and the bare `x:y::z`.
    @inlinable public init?(literal text: some Collection<UInt8>, ipv6: Bool = false) {
        var bytes = Array(text)
        let bracketed = bytes.first == UInt8(ascii: "[") && bytes.last == UInt8(ascii: "]") && bytes.count > 2
        if bracketed { bytes = Array(bytes[1..<(bytes.count - 1)]) }
        if let v4 = IPAddress(dotted: bytes) {
            self = v4
            return
        }
        guard ipv6 else { return nil }
        let tag = Array("IPv6:".utf8)
        if bracketed, bytes.count > tag.count,
            ASCII.lowercased(bytes[0..<tag.count]) == ASCII.lowercased(tag)
        {
            bytes = Array(bytes[tag.count...])
        }
        guard let v6 = IPAddress(ipv6: bytes) else { return nil }
        self = v6
    }

    public var description: String {
        switch family {
        case .v4:
            return "\(bytes[0]).\(bytes[1]).\(bytes[2]).\(bytes[3])"
        case .v6:
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// 0.0.0.0, which qmail counts among this machine's addresses.
    public static let any = IPAddress(0, 0, 0, 0)
    /// ::, the IPv6 counterpart.
    public static let anyV6 = IPAddress(v6: [UInt8](repeating: 0, count: 16))!
}
