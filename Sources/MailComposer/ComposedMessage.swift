// What the composer hands back: the message bytes ready to send (CRLF line
// ends, no line over 998 octets) and the envelope to send them with, plus the
// Message-ID it chose.

public struct ComposedMessage: Sendable {
    /// The whole RFC 5322 message.
    public let bytes: [UInt8]
    /// The envelope sender: the From address, or the `sender` override.
    public let sender: [UInt8]
    /// The envelope recipients: To, Cc and Bcc (each address once), or the `recipients` override.
    public let recipients: [[UInt8]]
    /// The Message-ID without its angle brackets, `random@domain`.
    public let messageID: String
    /// Whether From, To, Cc or Reply-To holds an address with a UTF-8 local
    /// part (RFC 6532): such a message needs SMTPUTF8, which the core asks for
    /// only when an envelope address is UTF-8 (sender and recipients overrides
    /// can leave it out).
    public let headersNeedSMTPUTF8: Bool
}
