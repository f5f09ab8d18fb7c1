// What a client asks to be sent, field by field, as the compose API's JSON
// carries it once decoded: addresses still as given, texts as Unicode,
// attachments as bytes. Nothing here is checked yet; Composer checks it all.

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
    public var content: [UInt8]
    /// With an id, the part is inline (referred to as `cid:<id>` from the HTML).
    public var contentID: String?

    public init(filename: String, contentType: String?, content: [UInt8], contentID: String? = nil) {
        self.filename = filename
        self.contentType = contentType
        self.content = content
        self.contentID = contentID
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
    public var text: String?
    public var html: String?
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
        self.text = text
        self.html = html
        self.attachments = attachments
        self.headers = headers
        self.sender = sender
        self.recipients = recipients
    }
}
