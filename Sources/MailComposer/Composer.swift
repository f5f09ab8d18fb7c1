// Fields in, message out: checks a Composition, works out the envelope, has
// BodyPart+Structure pick the MIME tree, and lays the message out once
// (MessageAssembly) so its exact size is known before anything large is
// encoded. The envelope's own checks (as the core will send it) stay with the caller.

public struct Composer: Sendable {
    /// The right side of every Message-ID (qmail's control/me).
    public let messageIDDomain: [UInt8]

    /// nil when `messageIDDomain` is not a host name or address literal.
    public init?(messageIDDomain: String) {
        let bytes = Array(messageIDDomain.utf8)
        guard bytes.count <= 255, AddressText.isDomain(bytes[...]) else { return nil }
        self.messageIDDomain = bytes
    }

    /// Builds the message. `maxMessageBytes` bounds the message as built: past it
    /// the error is `message_too_large`, known from the attachments' sizes before
    /// anything is written and from the exact size before any attachment is encoded.
    public func compose(
        _ composition: Composition, date: MessageDate, maxMessageBytes: Int = .max,
        using random: inout some RandomNumberGenerator
    ) throws(CompositionError) -> ComposedMessage {
        // Encoding never shrinks a text, and attachments grow by a known amount.
        let contentBytes =
            composition.attachments.reduce(0) { $0 + Base64Lines.encodedLength($1.body.count) }
            + (composition.textBody?.count ?? 0) + (composition.htmlBody?.count ?? 0)
        if contentBytes > maxMessageBytes { throw Self.tooLarge(maxMessageBytes) }

        let from = try Mailbox(composition.from, label: FieldLabel("from"))
        let to = try Self.mailboxes(composition.to, label: "to")
        let cc = try Self.mailboxes(composition.cc, label: "cc")
        let bcc = try Self.mailboxes(composition.bcc, label: "bcc")
        let replyTo = try Self.mailboxes(composition.replyTo, label: "reply_to")
        if to.isEmpty && cc.isEmpty && bcc.isEmpty {
            throw CompositionError(.noRecipients, "give at least one address in to, cc or bcc")
        }
        if let subject = composition.subject, let problem = FieldText.problem(in: subject, allowTab: true) {
            throw CompositionError(.invalidField, "subject \(problem)")
        }
        for header in composition.headers { try ExtraHeader.check(header) }
        let token = RandomText.token(using: &random)
        let body = try BodyPart.structure(of: composition, token: token)

        let sender = composition.sender.map { Array($0.utf8) } ?? from.envelopeAddress
        let recipients: [[UInt8]]
        if let given = composition.recipients {
            if given.isEmpty { throw CompositionError(.noRecipients, "recipients is empty") }
            recipients = given.map { Array($0.utf8) }
        } else {
            recipients = Self.eachOnce(to + cc + bcc)
        }

        var messageID = token
        messageID.append(UInt8(ascii: "@"))
        messageID.append(contentsOf: messageIDDomain)

        var out = MessageAssembly()
        out.append("Date: ")
        out.append(date.rendered)
        out.append("\r\n")
        Self.writeAddresses("From", [from], into: &out)
        if !to.isEmpty { Self.writeAddresses("To", to, into: &out) }
        if !cc.isEmpty { Self.writeAddresses("Cc", cc, into: &out) }
        if !replyTo.isEmpty { Self.writeAddresses("Reply-To", replyTo, into: &out) }
        if let subject = composition.subject {
            let fits = out.writeField("Subject") { UnstructuredText.write(subject, into: &$0, encodeLongWords: true) }
            if !fits {
                throw CompositionError(.invalidField, "subject has white space too long to fold within 998 octets")
            }
        }
        out.append("Message-ID: <")
        out.append(messageID)
        out.append(">\r\n")
        for header in composition.headers { try ExtraHeader.write(header, into: &out) }
        out.append("MIME-Version: 1.0\r\n")
        body.writeHeaders(into: &out)
        out.append("\r\n")
        body.writeBody(into: &out)
        if case .multipart = body { out.append("\r\n") }
        if out.unreadable { throw .unreadable("text") }
        if out.count > maxMessageBytes { throw Self.tooLarge(maxMessageBytes) }

        let utf8Headers = ([from] + to + cc + replyTo).contains { $0.localPart.contains { $0 > 127 } }
        return ComposedMessage(
            assembly: out, sender: sender, recipients: recipients, from: from.envelopeAddress,
            messageID: String(decoding: messageID, as: UTF8.self), headersNeedSMTPUTF8: utf8Headers)
    }

    private static func tooLarge(_ limit: Int) -> CompositionError {
        CompositionError(.messageTooLarge, "the message would be larger than the maximum of \(limit) bytes")
    }

    private static func mailboxes(
        _ fields: [AddressField], label: StaticString
    ) throws(CompositionError) -> [Mailbox] {
        var mailboxes: [Mailbox] = []
        mailboxes.reserveCapacity(fields.count)
        for (index, field) in fields.enumerated() {
            mailboxes.append(try Mailbox(field, label: FieldLabel(label, index + 1)))
        }
        return mailboxes
    }

    /// The envelope addresses in order, each once (domains compared case-insensitively).
    private static func eachOnce(_ mailboxes: [Mailbox]) -> [[UInt8]] {
        var unique: [[UInt8]] = []
        unique.reserveCapacity(mailboxes.count)
        if mailboxes.count <= 16 {  // a hash set costs more than it saves
            var keys: [[UInt8]] = []
            for mailbox in mailboxes where !keys.contains(mailbox.deduplicationKey) {
                keys.append(mailbox.deduplicationKey)
                unique.append(mailbox.envelopeAddress)
            }
        } else {
            var keys: Set<[UInt8]> = []
            for mailbox in mailboxes where keys.insert(mailbox.deduplicationKey).inserted {
                unique.append(mailbox.envelopeAddress)
            }
        }
        return unique
    }

    private static func writeAddresses(_ name: String, _ mailboxes: [Mailbox], into out: inout MessageAssembly) {
        // Addresses and display names fold within 998 octets (Mailbox+Header).
        _ = out.writeField(name) { Mailbox.write(mailboxes, into: &$0) }
    }
}
