// POST /v1/messages once its body is in: decode the JSON (ComposePayload),
// lay the message out with a fresh Message-ID and the wall clock's Date,
// check the envelope and the token's policy (its senders for the From:
// address too) before anything is written, then write the message into a
// store of its own. The result is a Submission like any other route's, with
// the request's own fingerprint when it has an Idempotency-Key.

import MailComposer
import QmailRemote
import QmailSupport

extension GatewayEndpoint {
    func compose(
        _ body: SpooledBytes?, access: Access, summary: inout RequestSummary
    ) throws(APIError) -> Submission {
        guard let body else { throw .spoolFailed }
        if body.tooLarge { throw .tooLarge(body.limit) }
        guard let stored = body.finish() else { throw .spoolFailed }
        let limit = settings.maxMessageBytes
        let payload = try ComposePayload.decode(stored, maxMessageBytes: limit) { makeStore(limit: limit) }
        var random = SystemRandomNumberGenerator()
        let now = Clock.epochSeconds()
        let (message, input) = try payload.compose(
            with: messageIDHost.composer(),
            date: MessageDate(secondsSinceEpoch: now, utcOffsetSeconds: Clock.utcOffsetSeconds(at: now)),
            maxMessageBytes: limit, maxRecipients: settings.maxRecipients, using: &random)
        summary.sender = String(decoding: input.sender, as: UTF8.self)
        summary.recipientCount = input.recipients.count
        try access.permit(input)
        try access.permitFrom([message.from])
        // A replay is recognised from the request: the message has a new Date and Message-ID.
        var fingerprint: [UInt8]?
        if access.options.idempotencyKey != nil {
            guard let made = payload.fingerprint() else { throw .spoolFailed }
            fingerprint = made
        }
        // The payload's stores hold the budget (or the files) of what the message is written from.
        let built = withExtendedLifetime(payload) { store(message) }
        guard let built else { throw .spoolFailed }
        return Submission(input, built, messageID: message.messageID, requestFingerprint: fingerprint)
    }

    /// The built message as a message to deliver: in memory, written once
    /// into its exact size, when it is under the spool threshold and the
    /// budget has room; else written into a store in pieces (spooled when large).
    private func store(_ message: ComposedMessage) -> StoredMessage? {
        if message.size <= settings.spoolThresholdBytes, bodyMemory.reserve(message.size) {
            guard let bytes = message.assembledBytes() else {
                bodyMemory.release(message.size)
                return nil
            }
            var facts = MessageFacts(size: 0, eightBit: false)
            bytes.withUnsafeBytes { facts.scan($0) }
            return StoredMessage(bytes: bytes, facts: facts, budget: bodyMemory, reserved: message.size)
        }
        let written = makeStore(limit: settings.maxMessageBytes)
        guard message.write(into: written) else { return nil }
        return written.finish()
    }
}
