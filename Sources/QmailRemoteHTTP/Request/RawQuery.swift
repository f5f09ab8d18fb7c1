// The envelope of a raw (message/rfc822) delivery, from the query string:
// sender exactly once (may be empty), recipient one or more times, host at
// most once, nothing else. Values arrive percent-decoded, as bytes.

public enum RawQuery {
    public static func envelope(
        _ pairs: [(key: String, value: [UInt8])]
    ) throws(APIError)
        -> (sender: [UInt8], recipients: [[UInt8]], host: [UInt8]?)
    {
        var sender: [UInt8]?
        var recipients: [[UInt8]] = []
        var host: [UInt8]?
        for (key, value) in pairs {
            switch key {
            case "sender":
                if sender != nil { throw .badRequest("invalid_query", "sender is given more than once") }
                sender = value
            case "recipient":
                recipients.append(value)
            case "host":
                if host != nil { throw .badRequest("invalid_query", "host is given more than once") }
                host = value
            default:
                throw .badRequest("invalid_query", "unknown query parameter \(key.prefix(64))")
            }
        }
        guard let sender else { throw .badRequest("missing_field", "sender is required (sender= for a bounce)") }
        return (sender, recipients, host)
    }
}
