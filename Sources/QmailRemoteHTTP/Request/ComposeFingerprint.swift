// What makes two POST /v1/messages requests with one Idempotency-Key "the
// same request": the fields as decoded (not the JSON text, so white space,
// key order, escapes and "x" against ["x"] cannot tell them apart) and every
// byte of the texts and attachments. Not the built message: its Date and
// Message-ID are new each time, so a replay is recognised from the request.
// SHA-256 over tagged, length-prefixed fields; kept parts read in pieces.

import MailComposer
import QmailSupport

extension ComposePayload {
    /// nil when a kept text or attachment cannot be read back.
    func fingerprint() -> [UInt8]? {
        var hash = FieldHash()
        hash.text("qmail-remote-httpd compose 1")
        let composition = self.composition
        hash.address(composition.from)
        for (tag, list) in [
            ("to", composition.to), ("cc", composition.cc), ("bcc", composition.bcc), ("reply_to", composition.replyTo),
        ] {
            hash.text(tag)
            hash.count(list.count)
            for field in list { hash.address(field) }
        }
        hash.optional(composition.subject)
        guard hash.content(composition.textBody), hash.content(composition.htmlBody) else { return nil }
        hash.count(composition.attachments.count)
        for attachment in composition.attachments {
            hash.text(attachment.filename)
            hash.optional(attachment.contentType)
            hash.optional(attachment.contentID)
            guard hash.content(attachment.body) else { return nil }
        }
        hash.count(composition.headers.count)
        for header in composition.headers {
            hash.text(header.name)
            hash.text(header.value)
        }
        hash.optional(composition.sender)
        if let recipients = composition.recipients {
            hash.count(recipients.count + 1)
            for recipient in recipients { hash.text(recipient) }
        } else {
            hash.count(0)
        }
        hash.optional(host)
        return hash.finish()
    }
}

/// SHA-256 over fields that cannot run into each other: each is its length
/// (8 bytes, big-endian) then its bytes; an absent one is a marker of its own.
private struct FieldHash {
    private var hash = SHA256()

    mutating func count(_ value: Int) {
        let value = UInt64(value)
        hash.update((0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) })
    }

    mutating func text(_ value: String) {
        let bytes = Array(value.utf8)
        count(bytes.count)
        hash.update(bytes)
    }

    mutating func optional(_ value: String?) {
        hash.update([value == nil ? 0 : 1])
        if let value { text(value) }
    }

    mutating func address(_ field: AddressField) {
        switch field {
        case .text(let value):
            hash.update([1])
            text(value)
        case .parts(let name, let address):
            hash.update([2])
            optional(name)
            text(address)
        }
    }

    /// false when the content cannot be read.
    mutating func content(_ content: PartContent?) -> Bool {
        hash.update([content == nil ? 0 : 1])
        guard let content else { return true }
        count(content.count)
        return content.forEachPiece(of: 65536) { hash.update($0) }
    }

    mutating func content(_ content: PartContent) -> Bool { self.content(Optional(content)) }

    mutating func finish() -> [UInt8] { hash.finish() }
}
