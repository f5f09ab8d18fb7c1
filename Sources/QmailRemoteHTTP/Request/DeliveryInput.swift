// A delivery request as the gateway accepts it, checked so that nothing bad
// reaches a remote server: addresses and host as the core would send them,
// recipient count within the limit, and (without a host) every recipient
// with a domain to group by. Also the grouping itself.

import QmailRemote

public struct DeliveryInput: Sendable {
    public let sender: [UInt8]
    public let recipients: [[UInt8]]
    public let host: [UInt8]?

    /// Checks everything but the message. Recipient numbers in messages are 1-based.
    public init(sender: [UInt8], recipients: [[UInt8]], host: [UInt8]?, maxRecipients: Int) throws(APIError) {
        if recipients.isEmpty { throw .badRequest("no_recipients", "give at least one recipient") }
        if recipients.count > maxRecipients {
            throw .badRequest("too_many_recipients", "\(recipients.count) recipients; the maximum is \(maxRecipients)")
        }
        if let problem = MailboxText.problem(in: sender) {
            throw .badRequest("invalid_sender", "sender \(problem.phrase)")
        }
        for (index, recipient) in recipients.enumerated() {
            if let problem = MailboxText.problem(in: recipient) {
                throw .badRequest("invalid_recipient", "recipient \(index + 1) \(problem.phrase)")
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
