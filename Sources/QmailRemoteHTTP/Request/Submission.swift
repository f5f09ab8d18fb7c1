// What every route that submits mail hands on once its body is decoded: the
// checked envelope, the message exactly as it will be sent, and what the
// route's answer adds (POST /v1/messages: the Message-ID it wrote). From
// here on (idempotency keys, the queue, the delivery, the answer) every
// route runs the same code (DeliveryIntake).

public struct Submission: Sendable {
    public let input: DeliveryInput
    public let message: StoredMessage
    /// The Message-ID POST /v1/messages wrote (without its angle brackets),
    /// which the answer carries as "message_id"; nil for POST /v1/deliveries.
    public let messageID: String?
    /// What identifies the request for its Idempotency-Key when the message
    /// cannot (POST /v1/messages: made from its fields); nil: the envelope and
    /// the message do (RequestFingerprint).
    let requestFingerprint: [UInt8]?

    public init(_ input: DeliveryInput, _ message: StoredMessage, messageID: String? = nil) {
        self.init(input, message, messageID: messageID, requestFingerprint: nil)
    }

    init(_ input: DeliveryInput, _ message: StoredMessage, messageID: String?, requestFingerprint: [UInt8]?) {
        self.input = input
        self.message = message
        self.messageID = messageID
        self.requestFingerprint = requestFingerprint
    }

    /// What the route adds to the top of a JSON answer about this submission.
    var answerFields: [(String, JSONValue)] { messageID.map { [("message_id", .string($0))] } ?? [] }
}
