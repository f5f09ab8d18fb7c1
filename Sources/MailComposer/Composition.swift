// What a client asks to be sent, field by field, as the compose API's JSON
// carries it once decoded: addresses still as given, texts as UTF-8 and
// attachments as bytes (in memory, or read in pieces from where the caller
// keeps them). Nothing here is checked yet; Composer checks it all.

/// One address as a client may write it.
public enum AddressField: Sendable, Equatable {
    /// `"bob@example.com"` or `"Bob <bob@example.com>"` (the name may be a quoted-string).
    case text(String)
    /// `{"name": ..., "address": ...}`: the name as plain text, the address an addr-spec.
    case parts(name: String?, address: String)
}

public struct AttachmentField: Sendable, Equatable {
    public var filename: String
    /// A media type such as `application/pdf`, parameters allowed; nil is `application/octet-stream`.
    public var contentType: String?
    public var body: PartContent
    /// With an id, the part is inline (referred to as `cid:<id>` from the HTML).
    public var contentID: String?

    public init(filename: String, contentType: String?, body: PartContent, contentID: String? = nil) {
        self.filename = filename
        self.contentType = contentType
        self.body = body
        self.contentID = contentID
    }

    public init(filename: String, contentType: String?, content: [UInt8], contentID: String? = nil) {
        self.init(filename: filename, contentType: contentType, body: PartContent(content), contentID: contentID)
    }

    /// The bytes (empty when they cannot be read).
    public var content: [UInt8] {
        get { body.allBytes() ?? [] }
        set { body = PartContent(newValue) }
    }
}

/// An extra header field, written after the ones the composer writes itself.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

public struct Composition: Sendable, Equatable {
    public var from: AddressField
    public var to: [AddressField]
    public var cc: [AddressField]
    /// In the envelope only, never in the message.
    public var bcc: [AddressField]
    public var replyTo: [AddressField]
    public var subject: String?
    /// The text/plain part's UTF-8.
    public var textBody: PartContent?
    /// The text/html part's UTF-8.
    public var htmlBody: PartContent?
    public var attachments: [AttachmentField]
    public var headers: [HeaderField]
    /// The envelope sender when it is not the From address (`""` for a bounce).
    public var sender: String?
    /// The envelope recipients when they are not To + Cc + Bcc.
    public var recipients: [String]?

    public init(
        from: AddressField, to: [AddressField] = [], cc: [AddressField] = [], bcc: [AddressField] = [],
        replyTo: [AddressField] = [], subject: String? = nil, text: String? = nil, html: String? = nil,
        attachments: [AttachmentField] = [], headers: [HeaderField] = [], sender: String? = nil,
        recipients: [String]? = nil
    ) {
        self.from = from
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.replyTo = replyTo
        self.subject = subject
        textBody = text.map { PartContent(Array($0.utf8)) }
        htmlBody = html.map { PartContent(Array($0.utf8)) }
        self.attachments = attachments
        self.headers = headers
        self.sender = sender
        self.recipients = recipients
    }

    /// The text part as a string (tests, small texts).
    public var text: String? {
        get { textBody.map { String(decoding: $0.allBytes() ?? [], as: UTF8.self) } }
        set { textBody = newValue.map { PartContent(Array($0.utf8)) } }
    }

    /// The HTML part as a string (tests, small texts).
    public var html: String? {
        get { htmlBody.map { String(decoding: $0.allBytes() ?? [], as: UTF8.self) } }
        set { htmlBody = newValue.map { PartContent(Array($0.utf8)) } }
    }
}
