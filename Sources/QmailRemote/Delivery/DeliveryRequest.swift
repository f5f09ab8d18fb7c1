// What a caller asks the core to deliver: qmail-remote's three arguments
// (host, sender, recipients) and, for callers that must be able to stop a
// delivery part-way (a gateway draining, a queue recording the dot), a
// question asked while the message goes out.

/// Where a delivery stands when `DeliveryRequest.proceed` is asked.
public enum DeliveryStep: Sendable {
    /// About to write a piece of the message.
    case messageData
    /// About to write the final dot: after it, a retry may duplicate the message.
    case finalDot
}

public struct DeliveryRequest: Sendable {
    public var host: [UInt8]
    public var sender: [UInt8]
    public var recipients: [[UInt8]]
    /// Asked before each write of message data and, last, right before the final dot
    /// (the point after which a retry may duplicate the message). false stops the
    /// delivery there: no more data, no dot, QUIT; the message report is
    /// LocalFailure.stoppedBeforeFinalDot.
    public var proceed: (@Sendable (DeliveryStep) -> Bool)?

    public init(
        host: [UInt8], sender: [UInt8], recipients: [[UInt8]], proceed: (@Sendable (DeliveryStep) -> Bool)? = nil
    ) {
        self.host = host
        self.sender = sender
        self.recipients = recipients
        self.proceed = proceed
    }
}
