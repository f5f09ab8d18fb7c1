// Everything the gateway is configured with (flags or environment, parsed by
// the executable): where to listen, who may use it, and its limits.

public struct GatewaySettings: Sendable {
    public var listen: ListenAddress
    /// Bearer tokens; empty means no authentication (loopback only).
    public var tokens: [String]
    public var maxMessageBytes: Int
    public var maxRecipients: Int
    /// SMTP deliveries in flight at most (qmail's concurrencyremote).
    public var concurrency: Int
    /// Deliveries that may wait for a slot before requests get 503.
    public var queueLength: Int
    public var drainTimeoutSeconds: Int
    /// libmicrohttpd's connection limit (one thread each).
    public var maxConnections: Int
    /// Seconds an idle HTTP connection is kept.
    public var idleTimeoutSeconds: Int
    /// Raw bodies larger than this go to a temporary file here.
    public var spoolThresholdBytes: Int
    public var spoolDirectory: String
    /// Seconds an SMTP connection waits for the next message; 0: no reuse.
    public var smtpReuseIdleSeconds: Int
    /// Messages one SMTP connection carries at most.
    public var smtpReuseMessages: Int

    public init(
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8025)!,
        tokens: [String] = [], maxMessageBytes: Int = 26_214_400, maxRecipients: Int = 100,
        concurrency: Int = 20, queueLength: Int = 200, drainTimeoutSeconds: Int = 60,
        maxConnections: Int = 1024, idleTimeoutSeconds: Int = 60,
        spoolThresholdBytes: Int = 262_144, spoolDirectory: String = "/tmp",
        smtpReuseIdleSeconds: Int = 5, smtpReuseMessages: Int = 100
    ) {
        self.listen = listen
        self.tokens = tokens
        self.maxMessageBytes = maxMessageBytes
        self.maxRecipients = maxRecipients
        self.concurrency = concurrency
        self.queueLength = queueLength
        self.drainTimeoutSeconds = drainTimeoutSeconds
        self.maxConnections = maxConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.spoolThresholdBytes = spoolThresholdBytes
        self.spoolDirectory = spoolDirectory
        self.smtpReuseIdleSeconds = smtpReuseIdleSeconds
        self.smtpReuseMessages = smtpReuseMessages
    }

    /// The most bytes a JSON body may have: room for base64 (4/3) and JSON
    /// escaping around a message of the maximum size.
    public var maxJSONBodyBytes: Int { maxMessageBytes * 2 + 65_536 }
}
