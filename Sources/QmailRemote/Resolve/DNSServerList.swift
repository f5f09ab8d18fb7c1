// QMAILREMOTE_DNS: "IP[:PORT][,IP[:PORT]...]", IPv4 name servers to ask
// instead of the system's, a bare IP meaning port 53. Parsing only.

import QmailSupport

struct DNSServer: Sendable, Equatable {
    let address: IPAddress
    let port: UInt16
}

enum DNSServerList {
    /// The most servers the system resolver takes (glibc's MAXNS).
    static let maximum = 3

    /// nil when the text is not a well-formed list of at most `maximum` servers.
    static func parse(_ text: String) -> [DNSServer]? {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard !items.isEmpty, items.count <= maximum else { return nil }
        var servers: [DNSServer] = []
        for item in items {
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let address = IPAddress(dotted: String(parts[0])) else { return nil }
            var port: UInt16 = 53
            if parts.count == 2 {
                guard let value = UInt16(parts[1]), value > 0 else { return nil }
                port = value
            }
            servers.append(DNSServer(address: address, port: port))
        }
        return servers
    }
}
