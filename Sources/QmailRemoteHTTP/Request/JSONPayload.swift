// The JSON form of POST /v1/deliveries, checked strictly: an object with
// exactly the known fields, each of the right type (null is no value),
// exactly one of message / message_base64, base64 that decodes. Read in one
// streaming pass: the message goes straight into its own SpooledBytes
// (memory budget, then disk), so neither the body nor the message is ever
// held whole. Syntax errors win over every other refusal.

import QmailSupport

public struct JSONPayload {
    public let sender: [UInt8]
    /// The recipients, at most `maxRecipients + 1` of them (the count says how many were sent).
    public let recipients: [[UInt8]]
    public let recipientCount: Int
    public let host: [UInt8]?
    public let message: StoredMessage

    static let known: Set<String> = ["sender", "recipients", "host", "message", "message_base64"]
    /// Longer strings are kept cut here; the address checks then refuse them.
    static let stringCap = 4096

    /// Decodes `body`; `makeMessage` gives the store for the message.
    public static func decode(
        _ body: StoredMessage, maxRecipients: Int, makeMessage: () -> SpooledBytes
    ) throws(APIError) -> JSONPayload {
        var reader = JSONReader(body.reader(), length: body.count)
        var fields = Fields(maxRecipients: maxRecipients, message: makeMessage())
        do {
            try fields.read(&reader)
        } catch {
            switch error {
            case .syntax(let offset, let reason):
                throw .badRequest("malformed_json", "the body is not valid JSON: \(reason) at byte \(offset)")
            case .unreadable: throw .spoolFailed
            }
        }
        return try fields.payload()
    }
}

/// What one pass over the text found, checked afterwards in a fixed order.
private struct Fields {
    let maxRecipients: Int
    var rootType: String?
    var unknown: String?
    var seen: Set<String> = []
    var typeErrors: [String: String] = [:]
    var sender: [UInt8]?
    var host: [UInt8]?
    var recipients: [[UInt8]] = []
    var recipientCount = 0
    var recipientsGiven = false
    var badRecipient: (index: Int, type: String)?
    var message: TextSink
    var base64: Base64Sink
    var messageFields = 0

    init(maxRecipients: Int, message store: SpooledBytes) {
        self.maxRecipients = maxRecipients
        message = TextSink(store)
        base64 = Base64Sink(store)
    }

    mutating func read(_ reader: inout JSONReader) throws(JSONReadError) {
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
                try value(for: key, &reader)
                if try reader.endOfMember(closing: UInt8(ascii: "}")) { break }
            }
        }
        try reader.finish()
        message.flush()
        base64.finish()
    }

    private mutating func value(for key: String, _ reader: inout JSONReader) throws(JSONReadError) {
        let isString = try reader.peek() == UInt8(ascii: "\"")
        switch key {
        case "sender", "host":
            guard isString else { return try wrongType(key, &reader) }
            var text = CappedBytes(cap: JSONPayload.stringCap)
            try reader.readString(into: &text)
            if key == "sender" { sender = text.bytes } else { host = text.bytes }
        case "recipients":
            recipientsGiven = true
            guard try reader.peek() == UInt8(ascii: "[") else { return try wrongType(key, &reader) }
            reader.take()
            try reader.skipWhitespace()
            if try reader.peek() == UInt8(ascii: "]") {
                reader.take()
                return
            }
            while true {
                try reader.skipWhitespace()
                if try reader.peek() == UInt8(ascii: "\"") {
                    var text = CappedBytes(cap: JSONPayload.stringCap)
                    try reader.readString(into: &text)
                    if recipients.count <= maxRecipients { recipients.append(text.bytes) }
                } else {
                    if badRecipient == nil { badRecipient = (recipientCount + 1, try reader.valueTypeName()) }
                    try reader.skipValue(depth: 2)
                }
                recipientCount += 1
                if try reader.endOfMember(closing: UInt8(ascii: "]")) { return }
            }
        case "message":
            guard isString else { return try wrongType(key, &reader) }
            messageFields += 1
            if messageFields > 1 {
                var ignored = DiscardedBytes()
                return try reader.readString(into: &ignored)
            }
            try reader.readString(into: &message)
        case "message_base64":
            guard isString else { return try wrongType(key, &reader) }
            messageFields += 1
            if messageFields > 1 {
                var ignored = DiscardedBytes()
                return try reader.readString(into: &ignored)
            }
            try reader.readString(into: &base64)
        default:
            if unknown == nil { unknown = key }
            try reader.skipValue(depth: 1)
        }
    }

    private mutating func wrongType(_ key: String, _ reader: inout JSONReader) throws(JSONReadError) {
        typeErrors[key] = try reader.valueTypeName()
        try reader.skipValue(depth: 1)
    }

    /// The checks, in the order a reader of the refusal expects them.
    func payload() throws(APIError) -> JSONPayload {
        if let rootType { throw .badRequest("malformed_json", "the body must be a JSON object, not \(rootType)") }
        if let unknown { throw .badRequest("unknown_field", "unknown field \(unknown.prefix(64))") }
        if let type = typeErrors["sender"] {
            throw .badRequest("invalid_field", "sender must be a string, not \(type)")
        }
        guard let sender else { throw .badRequest("missing_field", "sender is required (\"\" for a bounce)") }
        if let type = typeErrors["recipients"] {
            throw .badRequest("invalid_field", "recipients must be an array of strings, not \(type)")
        }
        guard recipientsGiven else { throw .badRequest("missing_field", "recipients is required") }
        if let badRecipient {
            throw .badRequest(
                "invalid_field", "recipient \(badRecipient.index) must be a string, not \(badRecipient.type)")
        }
        if let type = typeErrors["host"] { throw .badRequest("invalid_field", "host must be a string, not \(type)") }
        for key in ["message", "message_base64"] {
            if let type = typeErrors[key] { throw .badRequest("invalid_field", "\(key) must be a string, not \(type)") }
        }
        guard messageFields == 1 else {
            throw .badRequest("invalid_message", "give exactly one of message and message_base64")
        }
        if base64.invalid {
            throw .badRequest(
                "invalid_base64", "message_base64 is not valid base64 (RFC 4648, padded, no white space)")
        }
        let store = message.store
        if store.tooLarge { throw .tooLarge(store.limit) }
        guard let stored = store.finish() else { throw .spoolFailed }
        return JSONPayload(
            sender: sender, recipients: recipients, recipientCount: recipientCount, host: host, message: stored)
    }
}
