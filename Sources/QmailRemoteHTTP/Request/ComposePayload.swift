// The JSON form of POST /v1/messages, checked strictly as JSONPayload is:
// exactly the known fields (in attachments and address objects too), each
// of the right type, null for none of them, base64 that decodes. Read in one
// streaming pass: text, html and each attachment's content go straight into
// stores of their own (memory budget, then spool file), decoded from base64
// as they are read, so that neither the body nor a large attachment is ever
// held whole; the other fields are small JSON values (at most 1 MiB of
// strings in all), and there are at most 100 attachments. Yields the
// MailComposer input; building it is `compose`.

import MailComposer
import QmailRemote
import QmailSupport

public struct ComposePayload: Sendable {
    public let composition: Composition
    public let host: String?
    /// Where the texts and attachments are kept: they hold their share of the
    /// memory budget (or their spool files) while the composition refers to them.
    let parts: [StoredMessage]

    static let known: Set<String> = [
        "from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "attachments", "headers", "sender",
        "recipients", "host",
    ]
    static let knownInAttachment: Set<String> = ["filename", "content_type", "content_base64", "content_id"]
    static let knownInAddress: Set<String> = ["name", "address"]
    /// The string bytes of every field but text, html and content_base64, together.
    static let maxFieldBytes = 1 << 20
    /// Each attachment has a store of its own, which may be a spool file (a descriptor).
    static let maxAttachments = 100

    /// Decodes `body`; `makeStore` gives the store for each text and attachment.
    /// Refuses with 413 when the texts and attachments alone, as sent, pass
    /// `maxMessageBytes`: the built message can only be larger.
    public static func decode(
        _ body: StoredMessage, maxMessageBytes: Int, makeStore: () -> SpooledBytes
    ) throws(APIError) -> ComposePayload {
        var reader = JSONReader(body.reader(), length: body.count)
        var fields = ComposeFields()
        do {
            try fields.read(&reader, makeStore: makeStore)
        } catch {
            switch error {
            case .syntax(let offset, let reason):
                throw .badRequest("malformed_json", "the body is not valid JSON: \(reason) at byte \(offset)")
            case .unreadable: throw .spoolFailed
            }
        }
        return try fields.payload(maxMessageBytes: maxMessageBytes)
    }

    /// Decodes a body held in memory, its parts kept in memory (tests).
    public static func decode(_ body: [UInt8], maxMessageBytes: Int) throws(APIError) -> ComposePayload {
        let budget = BodyMemory(limit: .max)
        return try decode(StoredMessage(body), maxMessageBytes: maxMessageBytes) {
            SpooledBytes(limit: maxMessageBytes, threshold: .max, budget: budget, spoolDirectory: "/")
        }
    }

    /// Lays out the message (its size within `maxMessageBytes`) and checks its
    /// envelope exactly as POST /v1/deliveries checks a given one. A message
    /// whose header fields need SMTPUTF8 (a UTF-8 local part in From, To, Cc
    /// or Reply-To) while its envelope is all ASCII is refused: the core asks
    /// for SMTPUTF8 only for a UTF-8 envelope, and without it such a message
    /// may not be sent (RFC 6531 3.4).
    public func compose(
        with composer: Composer, date: MessageDate, maxMessageBytes: Int, maxRecipients: Int,
        using random: inout some RandomNumberGenerator
    ) throws(APIError) -> (message: ComposedMessage, input: DeliveryInput) {
        let message: ComposedMessage
        do {
            message = try composer.compose(composition, date: date, maxMessageBytes: maxMessageBytes, using: &random)
        } catch {
            throw APIError(error)
        }
        let input = try DeliveryInput(
            sender: message.sender, recipients: message.recipients, host: host.map { Array($0.utf8) },
            maxRecipients: maxRecipients)
        let envelopeIsUTF8 = ([input.sender] + input.recipients).contains { $0.contains { $0 > 127 } }
        if message.headersNeedSMTPUTF8 && !envelopeIsUTF8 {
            throw .badRequest(
                "invalid_address",
                "an address in from, to, cc or reply_to has a UTF-8 local part, which needs SMTPUTF8, and no "
                    + "envelope address (sender, recipients) has one; give that address in the envelope too")
        }
        return (message, input)
    }
}

/// One attachment object as read: its small strings, its content's store.
private struct AttachmentRead {
    var notObject: String?
    var unknown: String?
    var strings: [String: String] = [:]
    var typeErrors: [String: String] = [:]
    var content: Base64Sink?
}

/// What one pass over the body found, checked afterwards in a fixed order.
private struct ComposeFields {
    var rootType: String?
    var unknown: String?
    var seen: Set<String> = []
    var nodes: [String: JSONNode] = [:]
    /// text, html and attachments when they are not what they must be.
    var typeErrors: [String: String] = [:]
    var text: SpooledBytes?
    var html: SpooledBytes?
    var attachments: [AttachmentRead]?
    /// More attachments than `maxAttachments` were sent (those past it are read for their syntax only).
    var attachmentsSent = 0
    var fieldBudget = ComposePayload.maxFieldBytes

    mutating func read(_ reader: inout JSONReader, makeStore: () -> SpooledBytes) throws(JSONReadError) {
        try reader.skipWhitespace()
        guard try reader.peek() == UInt8(ascii: "{") else {
            if try reader.peek() == nil { throw reader.error("unexpected end") }
            rootType = try reader.valueTypeName()
            try reader.skipValue(depth: 0)
            try reader.finish()
            return
        }
        reader.take()
        try reader.skipWhitespace()
        if try reader.peek() == UInt8(ascii: "}") {
            reader.take()
        } else {
            while true {
                let key = try Self.key(&reader, seen: &seen)
                try value(for: key, &reader, makeStore: makeStore)
                if try reader.endOfMember(closing: UInt8(ascii: "}")) { break }
            }
        }
        try reader.finish()
    }

    /// A member's key and its colon; a key seen before in the object is a syntax error.
    private static func key(_ reader: inout JSONReader, seen: inout Set<String>) throws(JSONReadError) -> String {
        try reader.skipWhitespace()
        guard try reader.peek() == UInt8(ascii: "\"") else { throw reader.error("expected a key") }
        var keyBytes = CappedBytes(cap: JSONPayload.stringCap)
        try reader.readString(into: &keyBytes)
        if keyBytes.overflowed { throw reader.error("key too long") }
        let key = String(decoding: keyBytes.bytes, as: UTF8.self)
        if !seen.insert(key).inserted { throw reader.error("duplicate key \(key.prefix(64))") }
        try reader.skipWhitespace()
        guard try reader.peek() == UInt8(ascii: ":") else { throw reader.error("expected ':'") }
        reader.take()
        try reader.skipWhitespace()
        return key
    }

    private mutating func value(
        for key: String, _ reader: inout JSONReader, makeStore: () -> SpooledBytes
    ) throws(JSONReadError) {
        switch key {
        case "text", "html":
            guard try reader.peek() == UInt8(ascii: "\"") else { return try wrongType(key, &reader) }
            var sink = TextSink(makeStore())
            try reader.readString(into: &sink)
            sink.flush()
            if key == "text" { text = sink.store } else { html = sink.store }
        case "attachments":
            guard try reader.peek() == UInt8(ascii: "[") else { return try wrongType(key, &reader) }
            reader.take()
            var items: [AttachmentRead] = []
            try reader.skipWhitespace()
            if try reader.peek() == UInt8(ascii: "]") {
                reader.take()
            } else {
                while true {
                    attachmentsSent += 1
                    if attachmentsSent > ComposePayload.maxAttachments {
                        try reader.skipValue(depth: 2)
                    } else {
                        items.append(try attachment(&reader, makeStore: makeStore))
                    }
                    if try reader.endOfMember(closing: UInt8(ascii: "]")) { break }
                }
            }
            attachments = items
        case _ where ComposePayload.known.contains(key):
            if fieldBudget < 0 { return try reader.skipValue(depth: 1) }
            nodes[key] = try reader.node(depth: 1, budget: &fieldBudget)
        default:
            if unknown == nil { unknown = key }
            try reader.skipValue(depth: 1)
        }
    }

    private mutating func wrongType(_ key: String, _ reader: inout JSONReader) throws(JSONReadError) {
        typeErrors[key] = try reader.valueTypeName()
        try reader.skipValue(depth: 1)
    }

    private mutating func attachment(
        _ reader: inout JSONReader, makeStore: () -> SpooledBytes
    ) throws(JSONReadError) -> AttachmentRead {
        var item = AttachmentRead()
        try reader.skipWhitespace()
        guard try reader.peek() == UInt8(ascii: "{") else {
            if try reader.peek() == nil { throw reader.error("unexpected end") }
            item.notObject = try reader.valueTypeName()
            try reader.skipValue(depth: 2)
            return item
        }
        reader.take()
        try reader.skipWhitespace()
        if try reader.peek() == UInt8(ascii: "}") {
            reader.take()
            return item
        }
        var seen: Set<String> = []
        while true {
            let key = try Self.key(&reader, seen: &seen)
            let isString = try reader.peek() == UInt8(ascii: "\"")
            switch key {
            case "content_base64" where isString:
                var sink = Base64Sink(makeStore())
                try reader.readString(into: &sink)
                sink.finish()
                item.content = sink
            case "filename" where isString, "content_type" where isString, "content_id" where isString:
                var text = CappedBytes(cap: max(0, fieldBudget))
                try reader.readString(into: &text)
                fieldBudget = text.overflowed ? -1 : fieldBudget - text.bytes.count
                item.strings[key] = String(decoding: text.bytes, as: UTF8.self)
            case _ where ComposePayload.knownInAttachment.contains(key):
                item.typeErrors[key] = try reader.valueTypeName()
                try reader.skipValue(depth: 3)
            default:
                if item.unknown == nil { item.unknown = key }
                try reader.skipValue(depth: 3)
            }
            if try reader.endOfMember(closing: UInt8(ascii: "}")) { return item }
        }
    }

    // MARK: - The checks, in the order a reader of the refusal expects them

    func payload(maxMessageBytes: Int) throws(APIError) -> ComposePayload {
        if let rootType { throw .badRequest("malformed_json", "the body must be a JSON object, not \(rootType)") }
        if let unknown { throw .badRequest("unknown_field", "unknown field \(unknown.prefix(64))") }
        if fieldBudget < 0 {
            throw .badRequest(
                "invalid_field",
                "the fields other than text, html and content_base64 hold more than "
                    + "\(ComposePayload.maxFieldBytes) bytes of text together")
        }
        guard let fromNode = nodes["from"] else { throw .badRequest("missing_field", "from is required") }
        let from = try Self.address(fromNode, named: "from")
        let to = try Self.addresses(nodes["to"], named: "to")
        let cc = try Self.addresses(nodes["cc"], named: "cc")
        let bcc = try Self.addresses(nodes["bcc"], named: "bcc")
        let replyTo = try Self.addresses(nodes["reply_to"], named: "reply_to")
        let subject = try nodes["subject"].map { (node) throws(APIError) in try Self.string(node, named: "subject") }
        for key in ["text", "html"] {
            if let type = typeErrors[key] { throw .badRequest("invalid_field", "\(key) must be a string, not \(type)") }
        }
        let sender = try nodes["sender"].map { (node) throws(APIError) in try Self.string(node, named: "sender") }
        let host = try nodes["host"].map { (node) throws(APIError) in try Self.string(node, named: "host") }
        let recipients = try nodes["recipients"].map { (node) throws(APIError) in
            try Self.strings(node, named: "recipients")
        }

        var headers: [HeaderField] = []
        if let node = nodes["headers"] {
            guard case .object(let pairs) = node else {
                throw .badRequest("invalid_field", "headers must be an object of strings, not \(node.typeName)")
            }
            for (name, value) in pairs {
                headers.append(
                    HeaderField(name: name, value: try Self.string(value, named: "header \(name.prefix(64))")))
            }
        }

        if let type = typeErrors["attachments"] {
            throw .badRequest("invalid_field", "attachments must be an array of objects, not \(type)")
        }
        if attachmentsSent > ComposePayload.maxAttachments {
            throw .badRequest(
                "invalid_field",
                "\(attachmentsSent) attachments; the maximum is \(ComposePayload.maxAttachments)")
        }
        var contents: [Base64Sink] = []
        for (index, item) in (attachments ?? []).enumerated() {
            let label = "attachment \(index + 1)"
            if let type = item.notObject {
                throw .badRequest("invalid_field", "\(label) must be an object, not \(type)")
            }
            if let unknown = item.unknown {
                throw .badRequest("unknown_field", "unknown field \(unknown.prefix(64)) in \(label)")
            }
            for key in ["filename", "content_base64"] {
                if let type = item.typeErrors[key] {
                    throw .badRequest("invalid_field", "\(label) \(key) must be a string, not \(type)")
                }
                if key == "filename" ? item.strings[key] == nil : item.content == nil {
                    throw .badRequest("missing_field", "\(label) has no \(key)")
                }
            }
            for key in ["content_type", "content_id"] {
                if let type = item.typeErrors[key] {
                    throw .badRequest("invalid_field", "\(label) \(key) must be a string, not \(type)")
                }
            }
            contents.append(item.content!)
        }

        let sentSize =
            contents.reduce(0) { $0 + $1.characters } + (text?.count ?? 0) + (html?.count ?? 0)
        if sentSize > maxMessageBytes { throw .tooLarge(maxMessageBytes) }

        var parts: [StoredMessage] = []
        func stored(_ store: SpooledBytes) throws(APIError) -> PartContent {
            if store.tooLarge { throw .tooLarge(store.limit) }
            guard let kept = store.finish() else { throw .spoolFailed }
            parts.append(kept)
            return kept.partContent
        }
        var attachmentFields: [AttachmentField] = []
        attachmentFields.reserveCapacity(contents.count)
        for (index, (item, content)) in zip(attachments ?? [], contents).enumerated() {
            if content.invalid {
                throw .badRequest(
                    "invalid_base64",
                    "attachment \(index + 1) content_base64 is not valid base64 (RFC 4648, padded, no white space)")
            }
            attachmentFields.append(
                AttachmentField(
                    filename: item.strings["filename"]!, contentType: item.strings["content_type"],
                    body: try stored(content.store), contentID: item.strings["content_id"]))
        }
        var composition = Composition(
            from: from, to: to, cc: cc, bcc: bcc, replyTo: replyTo, subject: subject,
            attachments: attachmentFields, headers: headers, sender: sender, recipients: recipients)
        composition.textBody = try text.map { (store) throws(APIError) in try stored(store) }
        composition.htmlBody = try html.map { (store) throws(APIError) in try stored(store) }
        return ComposePayload(composition: composition, host: host, parts: parts)
    }

    private static func string(_ node: JSONNode, named name: String) throws(APIError) -> String {
        guard case .string(let text) = node else {
            throw .badRequest("invalid_field", "\(name) must be a string, not \(node.typeName)")
        }
        return text
    }

    private static func strings(_ node: JSONNode, named name: String) throws(APIError) -> [String] {
        guard case .array(let items) = node else {
            throw .badRequest("invalid_field", "\(name) must be an array of strings, not \(node.typeName)")
        }
        var result: [String] = []
        for (index, item) in items.enumerated() { result.append(try string(item, named: "\(name) \(index + 1)")) }
        return result
    }

    /// The members of an address object, only `name` and `address`.
    private static func members(of node: JSONNode, named name: String) throws(APIError) -> [String: JSONNode] {
        guard case .object(let members) = node else {
            throw .badRequest("invalid_field", "\(name) must be an object, not \(node.typeName)")
        }
        if let unknown = members.first(where: { !ComposePayload.knownInAddress.contains($0.0) }) {
            throw .badRequest("unknown_field", "unknown field \(unknown.0.prefix(64)) in \(name)")
        }
        return Dictionary(uniqueKeysWithValues: members)
    }

    /// "addr", "Name <addr>" or {"name": ..., "address": ...}.
    private static func address(_ node: JSONNode, named name: String) throws(APIError) -> AddressField {
        switch node {
        case .string(let text):
            return .text(text)
        case .object:
            let members = try members(of: node, named: name)
            guard let addressNode = members["address"] else {
                throw .badRequest("missing_field", "\(name) has no address")
            }
            let displayName = try members["name"].map { (node) throws(APIError) in
                try string(node, named: "\(name) name")
            }
            return .parts(name: displayName, address: try string(addressNode, named: "\(name) address"))
        default:
            throw .badRequest(
                "invalid_field", "\(name) must be an address string or a {name, address} object, not \(node.typeName)")
        }
    }

    /// One address, or an array of them.
    private static func addresses(_ node: JSONNode?, named name: String) throws(APIError) -> [AddressField] {
        guard let node else { return [] }
        guard case .array(let items) = node else { return [try address(node, named: name)] }
        var result: [AddressField] = []
        for (index, item) in items.enumerated() { result.append(try address(item, named: "\(name) \(index + 1)")) }
        return result
    }
}

extension APIError {
    /// A composition refused: 413 when too large, 503 when a kept part could
    /// not be read back, else 400; the composer's code and message.
    public init(_ error: CompositionError) {
        switch error.code {
        case .messageTooLarge: self.init(413, error.code.rawValue, error.message)
        case .unreadableContent: self = .spoolFailed
        default: self.init(400, error.code.rawValue, error.message)
        }
    }
}
