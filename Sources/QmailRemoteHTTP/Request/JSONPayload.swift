// The JSON form of POST /v1/deliveries, checked strictly: an object with
// exactly the known fields, each of the right type (null is no value),
// exactly one of message / message_base64, base64 that decodes.

import QmailSupport

public struct JSONPayload: Sendable {
    public let sender: String
    public let recipients: [String]
    public let host: String?
    public let message: [UInt8]

    static let known: Set<String> = ["sender", "recipients", "host", "message", "message_base64"]

    public static func decode(_ body: [UInt8], maxMessageBytes: Int) throws(APIError) -> JSONPayload {
        let root: JSONNode
        do {
            root = try JSONReader.parse(body)
        } catch {
            throw .badRequest("malformed_json", "the body is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object(let members) = root else {
            throw .badRequest("malformed_json", "the body must be a JSON object, not \(root.typeName)")
        }
        if let unknown = members.first(where: { !known.contains($0.0) }) {
            throw .badRequest("unknown_field", "unknown field \(unknown.0.prefix(64))")
        }
        let fields = Dictionary(uniqueKeysWithValues: members)

        func string(_ name: String) throws(APIError) -> String? {
            guard let node = fields[name] else { return nil }
            guard case .string(let text) = node else {
                throw .badRequest("invalid_field", "\(name) must be a string, not \(node.typeName)")
            }
            return text
        }
        guard let sender = try string("sender") else {
            throw .badRequest("missing_field", "sender is required (\"\" for a bounce)")
        }
        guard let list = fields["recipients"] else { throw .badRequest("missing_field", "recipients is required") }
        guard case .array(let items) = list else {
            throw .badRequest("invalid_field", "recipients must be an array of strings, not \(list.typeName)")
        }
        var recipients: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw .badRequest("invalid_field", "recipient \(index + 1) must be a string, not \(item.typeName)")
            }
            recipients.append(text)
        }
        let host = try string("host")

        let message: [UInt8]
        switch (try string("message"), try string("message_base64")) {
        case (let text?, nil):
            message = Array(text.utf8)
        case (nil, let encoded?):
            guard let bytes = Base64.decode(encoded) else {
                throw .badRequest(
                    "invalid_base64", "message_base64 is not valid base64 (RFC 4648, padded, no white space)")
            }
            message = bytes
        default:
            throw .badRequest("invalid_message", "give exactly one of message and message_base64")
        }
        if message.count > maxMessageBytes { throw .tooLarge(maxMessageBytes) }
        return JSONPayload(sender: sender, recipients: recipients, host: host, message: message)
    }
}
