// Why a composition cannot become a message: a stable code (the HTTP API's
// error code; every one but message_too_large and spool_failed is a 400) and a sentence for
// people naming the field. The composer's only error type.

public struct CompositionError: Error, Sendable, Equatable {
    public enum Code: String, Sendable {
        /// A required field is absent: `text` and `html` both, for example.
        case missingField = "missing_field"
        /// A field's text cannot be written: control characters, a bad media type or content id.
        case invalidField = "invalid_field"
        /// An address or its display name cannot be written (or a domain not in ASCII).
        case invalidAddress = "invalid_address"
        /// An extra header's name is not a field name, is one the composer writes, or its value is unwritable.
        case invalidHeader = "invalid_header"
        /// None of to, cc and bcc has an address, or the recipients override is empty.
        case noRecipients = "no_recipients"
        /// The built message would pass the caller's limit (HTTP 413, not 400).
        case messageTooLarge = "message_too_large"
        /// A text or attachment held by the caller (a spool file) could not be
        /// read: the caller's fault, not the client's (HTTP 503).
        case unreadableContent = "spool_failed"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func unreadable(_ what: String) -> CompositionError {
        CompositionError(.unreadableContent, "the \(what) could not be read back from where it was kept")
    }
}

/// Which field an error is about ("to 2", "attachment 3"); made into text
/// only when there is an error to report.
struct FieldLabel: CustomStringConvertible {
    let name: StaticString
    let number: Int?

    init(_ name: StaticString, _ number: Int? = nil) {
        self.name = name
        self.number = number
    }

    var description: String { number.map { "\(name) \($0)" } ?? "\(name)" }
}
