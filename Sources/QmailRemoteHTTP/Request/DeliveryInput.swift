// A delivery request as the gateway accepts it, checked so that nothing bad
// reaches a remote server: addresses the core can send, each recipient a
// local part and a domain, RFC 5321's lengths (local part 64, domain 255,
// address 254 octets), the recipient count within the limit, a host the core
// can deliver to, and (without a host) a domain to group by. Also the grouping.

import QmailRemote

public struct DeliveryInput: Sendable {
    public let sender: [UInt8]
    public let recipients: [[UInt8]]
    public let host: [UInt8]?

    /// RFC 5321 section 4.5.3.1.
    static let maxLocalPart = 64
    static let maxDomain = 255
    /// A path is at most 256 octets with its angle brackets.
    static let maxAddress = 254

    /// Checks everything but the message. `recipientCount` is how many were
    /// sent when `recipients` holds only the first ones. Numbers in messages are 1-based.
    public init(
        sender: [UInt8], recipients: [[UInt8]], recipientCount: Int? = nil, host: [UInt8]?, maxRecipients: Int
    ) throws(APIError) {
        let count = recipientCount ?? recipients.count
        if count == 0 { throw .badRequest("no_recipients", "give at least one recipient") }
        if count > maxRecipients {
            throw .badRequest("too_many_recipients", "\(count) recipients; the maximum is \(maxRecipients)")
        }
        if !sender.isEmpty, let problem = Self.problem(in: sender) {
            throw .badRequest("invalid_sender", "sender \(problem)")
        }
        for (index, recipient) in recipients.enumerated() {
            if let problem = Self.problem(in: recipient) {
                throw .badRequest("invalid_recipient", "recipient \(index + 1) \(problem)")
            }
            if host == nil && !HostName.isDeliverable(Self.domain(of: recipient), ipv6: true) {
                throw .badRequest(
                    "invalid_recipient",
                    "recipient \(index + 1) has no domain to deliver to; give host")
            }
        }
        if let host {
            if host.contains(where: { $0 < 32 || $0 == 127 }) {
                throw .badRequest("invalid_host", "host contains a line break or other control character")
            }
            // IPv6 literals pass here; in classic mode (control/esmtp 0) the
            // core then reports them as the command does (#5.1.2).
            if !HostName.isDeliverable(host, ipv6: true) {
                throw .badRequest("invalid_host", "host is neither a domain name nor an IP literal")
            }
        }
        self.sender = sender
        self.recipients = recipients
        self.host = host
    }

    /// Why an address cannot be sent, as a phrase after "sender" or "recipient 2".
    static func problem(in address: [UInt8]) -> String? {
        if let problem = MailboxText.problem(in: address) { return problem.phrase }
        guard let at = address.lastIndex(of: UInt8(ascii: "@")) else {
            return "has no domain (an address is local-part@domain)"
        }
        let local = at - address.startIndex
        let domain = address.endIndex - at - 1
        if local == 0 { return "has an empty local part" }
        if domain == 0 { return "has no domain (an address is local-part@domain)" }
        if local > maxLocalPart { return "has a local part of \(local) octets; RFC 5321 allows \(maxLocalPart)" }
        if domain > maxDomain { return "has a domain of \(domain) octets; RFC 5321 allows \(maxDomain)" }
        if address.count > maxAddress { return "is \(address.count) octets long; RFC 5321 allows \(maxAddress)" }
        return nil
    }

    /// One delivery per host: the given host with every recipient, or one per
    /// recipient domain (case-insensitive) in order of first appearance.
    public var groups: [(host: [UInt8], recipientIndices: [Int])] {
        if let host { return [(host, Array(recipients.indices))] }
        var order: [[UInt8]] = []
        var members: [[UInt8]: [Int]] = [:]
        for (index, recipient) in recipients.enumerated() {
            let key = Self.domain(of: recipient).map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(index)
        }
        return order.map { ($0, members[$0]!) }
    }

    static func domain(of address: [UInt8]) -> [UInt8] {
        guard let at = address.lastIndex(of: UInt8(ascii: "@")) else { return [] }
        return Array(address[(at + 1)...])
    }
}
