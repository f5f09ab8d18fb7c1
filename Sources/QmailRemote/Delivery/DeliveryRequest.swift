// What a caller asks the core to deliver: qmail-remote's three arguments
// (host, sender, recipients) and, for callers that must be able to stop a
// delivery part-way (a gateway draining, a queue recording the dot), a
// question asked while the message goes out; for callers with an outbound
// policy (the gateway), a filter on the addresses it may connect to.

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
    /// Addresses reached through `host` (not through smtproutes) that may not
    /// be used are dropped; when none is left the message report is
    /// LocalFailure.destinationNotAllowed and no connection is made.
    public var destinationFilter: DestinationFilter?

    public init(
        host: [UInt8], sender: [UInt8], recipients: [[UInt8]], proceed: (@Sendable (DeliveryStep) -> Bool)? = nil,
        destinationFilter: DestinationFilter? = nil
    ) {
        self.host = host
        self.sender = sender
        self.recipients = recipients
        self.proceed = proceed
        self.destinationFilter = destinationFilter
    }
}
