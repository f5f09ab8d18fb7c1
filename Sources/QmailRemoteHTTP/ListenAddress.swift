// --listen HOST:PORT: an IPv4 address, "localhost", or [IPv6], and a port.
// Knows whether it is loopback only (the one case allowed without tokens).

import QmailSupport
#if canImport(Glibc)
import Glibc
#endif

public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: UInt16
    public let isIPv6: Bool

    /// Parses "127.0.0.1:8025", "localhost:8025", "[::1]:8025", "0.0.0.0:8025", "[::]:8025".
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        var host = String(text[..<colon])
        var v6 = false
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            v6 = true
        } else if host == "localhost" {
            host = "127.0.0.1"
        }
        self.init(host: host, port: port, isIPv6: v6)
    }

    public init?(host: String, port: UInt16, isIPv6: Bool = false) {
        var probe = in6_addr()
        let valid = isIPv6 ? inet_pton(AF_INET6, host, &probe) == 1 : inet_pton(AF_INET, host, &probe) == 1
        guard valid else { return nil }
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    /// The address to bind; "0.0.0.0" and "::" mean every address.
    public var address: IPAddress { IPAddress(literal: Array(host.utf8), ipv6: isIPv6)! }

    /// Where a client on this machine reaches the listener.
    public var reachableAddress: IPAddress {
        if host == "0.0.0.0" { return IPAddress(127, 0, 0, 1) }
        if isIPv6 && address == .anyV6 { return IPAddress(literal: Array("::1".utf8), ipv6: true)! }
        return address
    }

    public var isLoopback: Bool {
        if isIPv6 { return host == "::1" || host == "0:0:0:0:0:0:0:1" }
        return host.hasPrefix("127.")
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
