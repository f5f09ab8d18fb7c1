// What the composer hands back: the message laid out and ready to write
// (CRLF line ends, no line over 998 octets; its exact size known), the
// envelope to send it with, the From address, and the Message-ID it chose.

public struct ComposedMessage: Sendable {
    let assembly: MessageAssembly
    /// The envelope sender: the From address, or the `sender` override.
    public let sender: [UInt8]
    /// The envelope recipients: To, Cc and Bcc (each address once), or the `recipients` override.
    public let recipients: [[UInt8]]
    /// The From: address (local-part@domain), for a caller's sender policy.
    public let from: [UInt8]
    /// The Message-ID without its angle brackets, `random@domain`.
    public let messageID: String
    /// Whether From, To, Cc or Reply-To holds an address with a UTF-8 local
    /// part (RFC 6532): such a message needs SMTPUTF8, which the core asks for
    /// only when an envelope address is UTF-8 (sender and recipients overrides
    /// can leave it out).
    public let headersNeedSMTPUTF8: Bool

    /// The size of the whole message in bytes.
    public var size: Int { assembly.count }

    /// The whole RFC 5322 message, for contents held in memory (a content
    /// that cannot be read is a programming error here: use `write`).
    public var bytes: [UInt8] {
        guard let bytes = assembly.bytes() else { preconditionFailure("a part's content could not be read") }
        return bytes
    }

    /// The whole message in one allocation of exactly `size` bytes; nil when
    /// a content held elsewhere could not be read.
    public func assembledBytes() -> [UInt8]? { assembly.bytes() }

    /// Writes the message into `sink` in pieces, reading contents held
    /// elsewhere as it goes; false when one could not be read.
    public func write(into sink: any MessageSink) -> Bool { assembly.write(into: sink) }
}
