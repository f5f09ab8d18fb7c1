// The JSON form of POST /v1/messages, checked strictly as JSONPayload is:
// exactly the known fields (in attachments and address objects too), each
// of the right type, null for none of them, base64 that decodes. Yields the
// MailComposer input; building it and the envelope checks are `compose`.

import MailComposer
import QmailRemote
import QmailSupport

public struct ComposePayload: Sendable {
    public let composition: Composition
    public let host: String?

    static let known: Set<String> = [
        "from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "attachments", "headers", "sender",
        "recipients", "host",
    ]
    static let knownInAttachment: Set<String> = ["filename", "content_type", "content_base64", "content_id"]
    static let knownInAddress: Set<String> = ["name", "address"]

    /// Refuses with 413 when the texts and attachments alone, as sent, pass
    /// `maxMessageBytes`: the built message can only be larger.
    public static func decode(_ body: [UInt8], maxMessageBytes: Int) throws(APIError) -> ComposePayload {
        let root: JSONNode
        do {
            root = try JSONReader.parse(body)
        } catch {
            throw .badRequest("malformed_json", "the body is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object = root else {
            throw .badRequest("malformed_json", "the body must be a JSON object, not \(root.typeName)")
        }
        let fields = try members(of: root, named: nil, known: known)

        guard let fromNode = fields["from"] else { throw .badRequest("missing_field", "from is required") }
        let from = try address(fromNode, named: "from")
        let to = try addresses(fields["to"], named: "to")
        let cc = try addresses(fields["cc"], named: "cc")
        let bcc = try addresses(fields["bcc"], named: "bcc")
        let replyTo = try addresses(fields["reply_to"], named: "reply_to")
        let subject = try fields["subject"].map { (node) throws(APIError) in try string(node, named: "subject") }
        let text = try fields["text"].map { (node) throws(APIError) in try string(node, named: "text") }
        let html = try fields["html"].map { (node) throws(APIError) in try string(node, named: "html") }
        let sender = try fields["sender"].map { (node) throws(APIError) in try string(node, named: "sender") }
        let host = try fields["host"].map { (node) throws(APIError) in try string(node, named: "host") }
        let recipients = try fields["recipients"].map { (node) throws(APIError) in
            try strings(node, named: "recipients")
        }

        var headers: [HeaderField] = []
        if let node = fields["headers"] {
            guard case .object(let pairs) = node else {
                throw .badRequest("invalid_field", "headers must be an object of strings, not \(node.typeName)")
            }
            for (name, value) in pairs {
                headers.append(HeaderField(name: name, value: try string(value, named: "header \(name.prefix(64))")))
            }
        }

        var encoded: [(filename: String, contentType: String?, base64: String, contentID: String?)] = []
        if let node = fields["attachments"] {
            guard case .array(let items) = node else {
                throw .badRequest("invalid_field", "attachments must be an array of objects, not \(node.typeName)")
            }
            for (index, item) in items.enumerated() {
                let label = "attachment \(index + 1)"
                let members = try members(of: item, named: label, known: knownInAttachment)
                func field(_ name: String) throws(APIError) -> String? {
                    try members[name].map { (node) throws(APIError) in try string(node, named: "\(label) \(name)") }
                }
                guard let filename = try field("filename") else {
                    throw .badRequest("missing_field", "\(label) has no filename")
                }
                guard let base64 = try field("content_base64") else {
                    throw .badRequest("missing_field", "\(label) has no content_base64")
                }
                encoded.append((filename, try field("content_type"), base64, try field("content_id")))
            }
        }

        let sentSize =
            encoded.reduce(0) { $0 + $1.base64.utf8.count } + (text?.utf8.count ?? 0)
            + (html?.utf8.count ?? 0)
        if sentSize > maxMessageBytes { throw .tooLarge(maxMessageBytes) }

        var attachments: [AttachmentField] = []
        attachments.reserveCapacity(encoded.count)
        for (index, attachment) in encoded.enumerated() {
            guard let content = Base64.decode(attachment.base64) else {
                throw .badRequest(
                    "invalid_base64",
                    "attachment \(index + 1) content_base64 is not valid base64 (RFC 4648, padded, no white space)")
            }
            attachments.append(
                AttachmentField(
                    filename: attachment.filename, contentType: attachment.contentType, content: content,
                    contentID: attachment.contentID))
        }

        return ComposePayload(
            composition: Composition(
                from: from, to: to, cc: cc, bcc: bcc, replyTo: replyTo, subject: subject, text: text, html: html,
                attachments: attachments, headers: headers, sender: sender, recipients: recipients),
            host: host)
    }

    /// Builds the message (its size within `maxMessageBytes`) and checks its
    /// envelope exactly as POST /v1/deliveries checks a given one.
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
        return (message, input)
    }

    /// The members of an object with only `known` keys; `name` is nil for the body itself.
    private static func members(
        of node: JSONNode, named name: String?, known: Set<String>
    ) throws(APIError) -> [String: JSONNode] {
        guard case .object(let members) = node else {
            throw .badRequest("invalid_field", "\(name ?? "the body") must be an object, not \(node.typeName)")
        }
        if let unknown = members.first(where: { !known.contains($0.0) }) {
            throw .badRequest(
                "unknown_field", "unknown field \(unknown.0.prefix(64))" + (name.map { " in \($0)" } ?? ""))
        }
        return Dictionary(uniqueKeysWithValues: members)
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

    /// "addr", "Name <addr>" or {"name": ..., "address": ...}.
    private static func address(_ node: JSONNode, named name: String) throws(APIError) -> AddressField {
        switch node {
        case .string(let text):
            return .text(text)
        case .object:
            let members = try members(of: node, named: name, known: knownInAddress)
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
    /// A composition refused: 413 when too large, else 400; the composer's code and message.
    public init(_ error: CompositionError) {
        self.init(error.code == .messageTooLarge ? 413 : 400, error.code.rawValue, error.message)
    }
}
