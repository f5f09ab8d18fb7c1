// What one entry of the token file lets its holder do: who it is (a bearer
// token, the SHA-256 of one, or a client certificate's subject), its name
// (for logs and metrics; the token itself is never shown), the senders it
// may use, the hosts and domains it may deliver to, its rate and its most
// recipients a request. The checks answer 403 with their own codes.

import QmailSupport

public struct TokenPolicy: Sendable {
    public enum Credential: Sendable, Equatable {
        /// The SHA-256 of the bearer token (the file gave the token or its hash).
        case tokenHash([UInt8])
        /// A client certificate's subject, as GnuTLS writes it (RFC 4514).
        case certificateSubject(String)
    }

    public let credential: Credential
    public let name: String
    /// nil: any sender.
    let senders: [AddressPattern]?
    /// nil: any host or recipient domain.
    let hosts: [AddressPattern]?
    public let rate: RateLimit?
    /// Most recipients in one request, below --max-recipients; nil: that limit.
    public let maxRecipients: Int?

    init(
        credential: Credential, name: String, senders: [AddressPattern]? = nil, hosts: [AddressPattern]? = nil,
        rate: RateLimit? = nil, maxRecipients: Int? = nil
    ) {
        self.credential = credential
        self.name = name
        self.senders = senders
        self.hosts = hosts
        self.rate = rate
        self.maxRecipients = maxRecipients
    }

    /// A plain token with no limits (QMAIL_REMOTE_HTTPD_TOKENS, tests).
    public init(token: String, name: String) {
        self.init(credential: .tokenHash(SHA256.digest(Array(token.utf8))), name: name)
    }

    /// 403 sender_not_allowed unless the envelope sender is one of `senders=`.
    public func permitSender(_ sender: [UInt8]) throws(APIError) {
        guard let senders else { return }
        if !senders.contains(where: { $0.matches(address: sender) }) {
            throw .senderNotAllowed(sender.isEmpty ? "the empty sender (<>)" : "sender \(Self.shown(sender))")
        }
    }

    /// The compose route's check of its From: addresses (each must be one
    /// of `senders=`); 403 sender_not_allowed otherwise.
    public func permitFrom(_ addresses: [[UInt8]]) throws(APIError) {
        guard let senders else { return }
        for address in addresses where !senders.contains(where: { $0.matches(address: address) }) {
            throw .senderNotAllowed("From: \(Self.shown(address))")
        }
    }

    /// 403 host_not_allowed unless every destination (the request's host, or
    /// each recipient domain) is one of `hosts=`; 403 too_many_recipients_for_token
    /// over `recipients=`.
    public func permitDelivery(_ input: DeliveryInput) throws(APIError) {
        if let maxRecipients, input.recipients.count > maxRecipients {
            throw .tooManyRecipientsForToken(input.recipients.count, maxRecipients)
        }
        guard let hosts else { return }
        for group in input.groups where !hosts.contains(where: { $0.matches(domain: group.host) }) {
            throw .hostNotAllowed(Self.shown(group.host))
        }
    }

    private static func shown(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(256).map { $0 < 32 || $0 == 127 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
