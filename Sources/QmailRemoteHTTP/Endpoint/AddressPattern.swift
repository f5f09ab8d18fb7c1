// The patterns of a token's `senders=` and `hosts=` lists: `@example.org`
// (any address at that domain), `.example.net` (any subdomain of it, not
// itself), `app@x.org` (that address), `<>` (the empty sender, bounces);
// for hosts, `example.com` or `.example.com`. Domains compare without
// regard to ASCII case, local parts exactly (RFC 5321).

import QmailSupport

enum AddressPattern: Sendable, Equatable {
    case nullSender
    case domain([UInt8])
    case subdomains(of: [UInt8])
    case address(local: [UInt8], domain: [UInt8])

    /// A sender pattern; nil if it is none of the forms.
    init?(sender text: String) {
        let bytes = Array(text.utf8)
        if text == "<>" {
            self = .nullSender
        } else if bytes.first == UInt8(ascii: "@"), bytes.count > 1, Self.isDomain(bytes.dropFirst()) {
            self = .domain(ASCII.lowercased(bytes.dropFirst()))
        } else if bytes.first == UInt8(ascii: "."), bytes.count > 1, Self.isDomain(bytes.dropFirst()) {
            self = .subdomains(of: ASCII.lowercased(bytes.dropFirst()))
        } else if let at = bytes.lastIndex(of: UInt8(ascii: "@")), at > 0, at + 1 < bytes.count,
            Self.isDomain(bytes[(at + 1)...]), !bytes[..<at].contains(where: { $0 <= 32 || $0 == 127 })
        {
            self = .address(local: Array(bytes[..<at]), domain: ASCII.lowercased(bytes[(at + 1)...]))
        } else {
            return nil
        }
    }

    /// A host pattern: `example.com` or `.example.com`.
    init?(host text: String) {
        let bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: "."), bytes.count > 1, Self.isDomain(bytes.dropFirst()) {
            self = .subdomains(of: ASCII.lowercased(bytes.dropFirst()))
        } else if Self.isDomain(bytes[...]) {
            self = .domain(ASCII.lowercased(bytes))
        } else {
            return nil
        }
    }

    /// Whether an envelope or From: address matches.
    func matches(address: [UInt8]) -> Bool {
        if address.isEmpty { return self == .nullSender }
        guard let at = address.lastIndex(of: UInt8(ascii: "@")) else { return false }
        let domain = ASCII.lowercased(address[(at + 1)...])
        switch self {
        case .nullSender: return false
        case .address(let local, let wanted): return Array(address[..<at]) == local && domain == wanted
        case .domain, .subdomains: return matches(domain: domain)
        }
    }

    /// Whether a host or domain matches.
    func matches(domain: [UInt8]) -> Bool {
        let domain = ASCII.lowercased(domain)
        switch self {
        case .domain(let wanted): return domain == wanted
        case .subdomains(let parent):
            return domain.count > parent.count + 1 && domain.suffix(parent.count + 1) == [UInt8(ascii: ".")] + parent
        case .nullSender, .address: return false
        }
    }

    private static func isDomain(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "@") && $0 != UInt8(ascii: ",") }
    }
}
