// control/smtproutes: "domain:relay[:port]" lines, optionally with a login
// ("domain:relay[:port] user password" or "...|user|password", then
// "insecure" to allow it without TLS). Matching is qmail's: the
// host exactly, then ".suffix" keys from the longest to the shortest, then the
// empty key (the default route), all case-insensitive. An empty relay means
// "use MX" and still wins over the default route. An IPv6 relay is written in
// brackets, so the port after it is unambiguous: "x.test:[2001:db8::25]:2525".

import QmailSupport

/// A login for a route (SMTP AUTH). Never printed: its description hides it.
struct Credentials: Sendable, Hashable, CustomStringConvertible {
    let user: [UInt8]
    let password: [UInt8]
    /// The route says "insecure": the login may go without TLS.
    let allowWithoutTLS: Bool

    init(user: [UInt8], password: [UInt8], allowWithoutTLS: Bool = false) {
        self.user = user
        self.password = password
        self.allowWithoutTLS = allowWithoutTLS
    }

    var description: String { "Credentials(redacted)" }
}

struct Route: Sendable, Equatable {
    enum Target: Sendable, Equatable {
        /// Look up MX records as if there were no route.
        case mailExchangers
        /// An IP address, used as it is.
        case address(IPAddress)
        /// A name, resolved with A records only (never MX).
        case name([UInt8])
    }

    let target: Target
    let port: UInt16
    var credentials: Credentials?

    init(target: Target, port: UInt16, credentials: Credentials? = nil) {
        self.target = target
        self.port = port
        self.credentials = credentials
    }
}

struct SMTPRoutes: Sendable, Equatable {
    private var routes = HostTable<Route>()

    init() {}

    /// Parses the file's lines. Blank lines and '#' lines are skipped; a line
    /// without a colon, with a relay that is neither a name nor an IP, or with
    /// a port above 65535 is an error: a broken route must not send mail
    /// somewhere else, so the mail waits until it is fixed.
    init(lines: [[UInt8]], file: String = "smtproutes") throws(ControlError) {
        for (number, line) in lines.enumerated() {
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            func bad(_ why: String) -> ControlError { ControlError(file: file, reason: "line \(number + 1): \(why)") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw bad("no colon") }
            let key = Array(line[..<colon])
            // "relay[:port] user password [insecure]" or "relay[:port]|user|password[|insecure]".
            var rest = line[(colon + 1)...]
            var credentials: Credentials?
            if let split = rest.firstIndex(where: { $0 == 32 || $0 == UInt8(ascii: "|") }) {
                let separator = rest[split]
                let words = rest[(split + 1)...].split(separator: separator, omittingEmptySubsequences: separator == 32)
                guard words.count == 2 || (words.count == 3 && words[2].elementsEqual("insecure".utf8)),
                    !words[0].isEmpty, !words[1].isEmpty
                else {
                    throw bad("after the relay give: user password [insecure], or |user|password[|insecure]")
                }
                credentials = Credentials(
                    user: Array(words[0]), password: Array(words[1]), allowWithoutTLS: words.count == 3)
                rest = rest[..<split]
            }
            let relay: ArraySlice<UInt8>
            var port: UInt16 = 25
            var portText: ArraySlice<UInt8>?
            if rest.first == UInt8(ascii: "["), let close = rest.firstIndex(of: UInt8(ascii: "]")) {
                relay = rest[...close]
                let after = rest[(close + 1)...]
                if let first = after.first {
                    guard first == UInt8(ascii: ":") else { throw bad("text after the bracketed relay") }
                    portText = after.dropFirst()
                }
            } else if let second = rest.firstIndex(of: UInt8(ascii: ":")) {
                relay = rest[..<second]
                portText = rest[(second + 1)...]
            } else {
                relay = rest
            }
            if let portText {
                var value = 0
                for byte in portText {
                    guard byte >= 48 && byte <= 57 else { break }
                    value = value * 10 + Int(byte - 48)
                    if value > 65535 { throw bad("port above 65535") }
                }
                port = UInt16(value)
            }
            let target: Route.Target
            if relay.isEmpty {
                target = .mailExchangers
            } else if let address = IPAddress(literal: relay, ipv6: relay.first == UInt8(ascii: "[")) {
                target = .address(address)
            } else if HostName.isDomainName(Array(relay)) {
                target = .name(Array(relay))
            } else {
                throw bad("relay is neither a host name nor an IP address")
            }
            if credentials != nil, case .mailExchangers = target { throw bad("a login needs a relay") }
            routes.set(key, Route(target: target, port: port, credentials: credentials))
        }
    }

    /// The route for `host`, if any key matches.
    func route(for host: [UInt8]) -> Route? { routes.lookup(host) }
}
