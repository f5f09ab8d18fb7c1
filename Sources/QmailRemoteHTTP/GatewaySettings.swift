// Everything the gateway is configured with (flags or environment, parsed by
// the executable): where to listen, who may use it, its limits, and the sizes
// derived from them (how long a request head may be, how much buffer
// libmicrohttpd needs per connection). No I/O here.

public struct GatewaySettings: Sendable {
    public var listen: ListenAddress
    /// The token file's entries (and QMAIL_REMOTE_HTTPD_TOKENS'); empty
    /// means no authentication (loopback only, unless client certificates are required).
    public var tokens: [TokenPolicy]
    /// HTTPS: certificate and key files, and the CA of client certificates; nil: plain HTTP.
    public var tls: TLSSettings?
    public var maxMessageBytes: Int
    public var maxRecipients: Int
    /// SMTP deliveries in flight at most (qmail's concurrencyremote).
    public var concurrency: Int
    /// SMTP deliveries in flight to one destination (a request's host or
    /// recipient domain) at most; nil: half of `concurrency`.
    public var concurrencyPerDestination: Int?
    /// Addresses the outbound destination policy lets through although they
    /// are loopback, private or otherwise not public (--allow-destinations).
    public var allowedDestinations: [AddressRange]
    /// Deliveries that may wait for a slot before requests get 503.
    public var queueLength: Int
    public var drainTimeoutSeconds: Int
    /// Open HTTP connections at most; beyond, connections are answered 503 and closed.
    public var maxConnections: Int
    /// Open HTTP connections from one address at most; beyond, answered 503 and closed.
    public var maxConnectionsPerIP: Int
    /// Connections libmicrohttpd serves at once (a request in progress, or
    /// kept alive after one), each with a buffer of `connectionBufferBytes`.
    public var maxActiveConnections: Int
    /// Seconds an idle kept-alive connection is kept.
    public var idleTimeoutSeconds: Int
    /// Seconds a request head may take from its first byte (the connection's
    /// start for a first request) to its end.
    public var headerTimeoutSeconds: Int
    /// Bytes per second a body must average after the first `headerTimeoutSeconds`; 0: no minimum.
    public var minBodyBytesPerSecond: Int
    /// Bodies and decoded messages held in memory, all requests together; the rest goes to disk.
    public var maxBodyMemory: Int
    /// A body (or decoded message) larger than this goes to a temporary file.
    public var spoolThresholdBytes: Int
    public var spoolDirectory: String
    /// Seconds an SMTP connection waits for the next message; 0: no reuse.
    public var smtpReuseIdleSeconds: Int
    /// Messages one SMTP connection carries at most.
    public var smtpReuseMessages: Int
    /// Where idempotency keys and the queue live (`sqlite:PATH` or `postgresql://...`).
    public var store = StoreURL.defaultValue
    /// Seconds an idempotency key (and a finished queued delivery's status) is kept.
    public var idempotencyTTLSeconds = 86_400
    /// qmail-send's chanskip for remote deliveries: retries at (base·n)² seconds after queuing.
    public var retryBaseSeconds = Int(RetrySchedule.defaultBase)
    /// Seconds a claimed queue job belongs to this gateway without being renewed.
    public var leaseSeconds = 60

    public init(
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8025)!,
        tokens: [TokenPolicy] = [], tls: TLSSettings? = nil, maxMessageBytes: Int = 26_214_400,
        maxRecipients: Int = 100,
        concurrency: Int = 20, queueLength: Int = 200, drainTimeoutSeconds: Int = 60,
        maxConnections: Int = 10_000, maxConnectionsPerIP: Int = 256, maxActiveConnections: Int = 1536,
        idleTimeoutSeconds: Int = 60, headerTimeoutSeconds: Int = 10, minBodyBytesPerSecond: Int = 1024,
        maxBodyMemory: Int = 64 << 20, spoolThresholdBytes: Int = 262_144, spoolDirectory: String = "/tmp",
        smtpReuseIdleSeconds: Int = 5, smtpReuseMessages: Int = 100, concurrencyPerDestination: Int? = nil,
        allowedDestinations: [AddressRange] = []
    ) {
        self.concurrencyPerDestination = concurrencyPerDestination
        self.allowedDestinations = allowedDestinations
        self.listen = listen
        self.tokens = tokens
        self.tls = tls
        self.maxMessageBytes = maxMessageBytes
        self.maxRecipients = maxRecipients
        self.concurrency = concurrency
        self.queueLength = queueLength
        self.drainTimeoutSeconds = drainTimeoutSeconds
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.maxActiveConnections = maxActiveConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.headerTimeoutSeconds = headerTimeoutSeconds
        self.minBodyBytesPerSecond = minBodyBytesPerSecond
        self.maxBodyMemory = maxBodyMemory
        self.spoolThresholdBytes = spoolThresholdBytes
        self.spoolDirectory = spoolDirectory
        self.smtpReuseIdleSeconds = smtpReuseIdleSeconds
        self.smtpReuseMessages = smtpReuseMessages
    }

    /// Deliveries to one destination at once: as given, else half the total
    /// (10 of the default 20), so one slow destination never takes every slot.
    public var destinationLimit: Int { min(concurrency, concurrencyPerDestination ?? max(1, concurrency / 2)) }

    /// Every request but /healthz needs a verified client certificate.
    public var requiresClientCertificate: Bool { tls?.clientCAFile != nil }

    /// The most bytes a JSON body may have: room for base64 (4/3) and JSON
    /// escaping around a message of the maximum size.
    public var maxJSONBodyBytes: Int { maxMessageBytes * 2 + 65_536 }

    /// The longest request line: the raw form's query with --max-recipients
    /// recipients of up to 254 octets each (RFC 5321), a few of them
    /// percent-escaped, plus the sender, the host and the rest of the line.
    public var maxRequestLineBytes: Int { 4096 + maxRecipients * 320 }

    /// The longest header section (every header line after the request line).
    public var maxHeaderBytes: Int { 16_384 }

    /// libmicrohttpd's buffer for each connection it serves: the longest
    /// head, its records of the query's parameters, and room to read the
    /// body and write the answer's headers. Pages are touched as bytes come,
    /// but a kept-alive connection touches all of it (the library clears the
    /// whole buffer between requests).
    public var connectionBufferBytes: Int {
        let bytes = maxRequestLineBytes + maxHeaderBytes + (maxRecipients + 64) * 64 + 16_384
        return (bytes + 4095) / 4096 * 4096
    }

    /// Seconds before the drain deadline from which no final dot is sent
    /// any more: a delivery then ends "not delivered" rather than "maybe".
    public var finalDotMarginSeconds: Double { min(5, Double(drainTimeoutSeconds) / 4) }
}
