// The addresses of this machine (qmail's ipme): every IPv4 and IPv6 address
// of every interface, plus 0.0.0.0 and ::. Used by the best-preference MX
// rule only.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

enum LocalAddresses {
    /// Read afresh on each call; nil when the interface list cannot be read.
    static func current() -> Set<IPAddress>? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var addresses: Set<IPAddress> = [.any, .anyV6]
        var entry = list
        while let current = entry {
            if let address = current.pointee.ifa_addr {
                if address.pointee.sa_family == sa_family_t(AF_INET) {
                    _ = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        addresses.insert(IPAddress(networkOrder: $0.pointee.sin_addr.s_addr))
                    }
                } else if address.pointee.sa_family == sa_family_t(AF_INET6) {
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        var bytes = $0.pointee.sin6_addr
                        if let v6 = IPAddress(v6: withUnsafeBytes(of: &bytes) { Array($0) }) { addresses.insert(v6) }
                    }
                }
            }
            entry = current.pointee.ifa_next
        }
        return addresses
    }
}
