// The gateway's command line: flags, each with an environment variable for
// containers (flag > environment > default), the loopback rule for running
// without tokens, logging, signals (SIGHUP reloads the HTTPS certificate),
// the drain on SIGTERM/SIGINT (a second one stops at once), and --probe for
// container health checks.

import ArgumentParser
import Logging
import QmailRemote
import QmailRemoteHTTP
import QmailSupport
#if canImport(Glibc)
import Glibc
#endif

struct GatewayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qmail-remote-httpd",
        abstract: "Deliver mail over HTTP with qmail-remote's delivery core.",
        discussion: """
            POST /v1/deliveries (JSON or message/rfc822; Idempotency-Key; Prefer: respond-async to queue it),
            GET /v1/deliveries/{id} (a queued delivery's status), GET /healthz, GET /metrics.
            Control files as for qmail-remote: QMAILHOME (default /var/qmail), CONTROLDIR,
            QMAILREMOTE_DNS. Tokens may also come from QMAIL_REMOTE_HTTPD_TOKENS (separated by
            commas or white space). Without any token the gateway listens on loopback only.
            HTTPS with --tls-cert and --tls-key (SIGHUP reloads them). Deliveries never connect
            to loopback, private or other non-public addresses unless smtproutes routes there
            or --allow-destinations allows them.
            """)

    @Option(
        help:
            "Address and port: 127.0.0.1:8025, [::1]:8025, 0.0.0.0:8025. (env QMAIL_REMOTE_HTTPD_LISTEN, default 127.0.0.1:8025)"
    )
    var listen: String?

    @Option(
        help:
            "Token file: one entry a line, TOKEN or sha256:HEX or subject:\"DN\", then name=, senders=, hosts=, rate=, burst=, recipients=. (env QMAIL_REMOTE_HTTPD_TOKEN_FILE)"
    )
    var tokenFile: String?

    @Option(
        help:
            "HTTPS: the certificate chain (PEM), re-read on SIGHUP. (env QMAIL_REMOTE_HTTPD_TLS_CERT; needs --tls-key)")
    var tlsCert: String?

    @Option(help: "HTTPS: the private key (PEM), re-read on SIGHUP. (env QMAIL_REMOTE_HTTPD_TLS_KEY)")
    var tlsKey: String?

    @Option(
        help:
            "HTTPS: require client certificates from this CA (PEM); a subject:\"DN\" entry in the token file then stands for a token. (env QMAIL_REMOTE_HTTPD_TLS_CLIENT_CA)"
    )
    var tlsClientCa: String?

    @Option(
        help:
            "Addresses deliveries may reach although loopback, private or not public: CIDR,CIDR,... (env QMAIL_REMOTE_HTTPD_ALLOW_DESTINATIONS; smtproutes relays always may)"
    )
    var allowDestinations: String?

    @Option(
        help:
            "Largest message in bytes; JSON bodies may be twice that plus 64 KiB. (env QMAIL_REMOTE_HTTPD_MAX_MESSAGE_BYTES, default 26214400)"
    )
    var maxMessageBytes: Int?

    @Option(help: "Most recipients in one request. (env QMAIL_REMOTE_HTTPD_MAX_RECIPIENTS, default 100)")
    var maxRecipients: Int?

    @Option(help: "SMTP deliveries in flight at most. (env QMAIL_REMOTE_HTTPD_CONCURRENCY, default 20)")
    var concurrency: Int?

    @Option(
        help:
            "SMTP deliveries in flight to one destination (host or recipient domain) at most. (env QMAIL_REMOTE_HTTPD_CONCURRENCY_PER_DESTINATION, default half of --concurrency: 10)"
    )
    var concurrencyPerDestination: Int?

    @Option(
        help: "Deliveries that may wait for a slot; beyond, 503. (env QMAIL_REMOTE_HTTPD_QUEUE_LENGTH, default 200)")
    var queueLength: Int?

    @Option(
        help:
            "Seconds to answer the requests in flight on SIGTERM/SIGINT. (env QMAIL_REMOTE_HTTPD_DRAIN_TIMEOUT, default 60)"
    )
    var drainTimeout: Int?

    @Option(
        help:
            "Open HTTP connections at most; beyond, 503 and closed. (env QMAIL_REMOTE_HTTPD_MAX_CONNECTIONS, default 10000)"
    )
    var maxConnections: Int?

    @Option(
        name: .customLong("max-connections-per-ip"),
        help:
            "Open HTTP connections from one address at most; beyond, 503 and closed. (env QMAIL_REMOTE_HTTPD_MAX_CONNECTIONS_PER_IP, default 256)"
    )
    var maxConnectionsPerIP: Int?

    @Option(
        help:
            "Connections served at once (a request in progress or kept alive), each with a buffer for its head. (env QMAIL_REMOTE_HTTPD_MAX_ACTIVE_CONNECTIONS, default 1536)"
    )
    var maxActiveConnections: Int?

    @Option(help: "Seconds an idle connection is kept. (env QMAIL_REMOTE_HTTPD_IDLE_TIMEOUT, default 60)")
    var idleTimeout: Int?

    @Option(
        help: "Seconds a request head may take to arrive. (env QMAIL_REMOTE_HTTPD_HEADER_TIMEOUT, default 10)")
    var headerTimeout: Int?

    @Option(
        help:
            "Bytes per second a body must average after the first --header-timeout seconds; 0: no minimum. (env QMAIL_REMOTE_HTTPD_MIN_BODY_RATE, default 1024)"
    )
    var minBodyRate: Int?

    @Option(
        help:
            "Bytes of bodies and messages held in memory, all requests together; the rest is spooled. (env QMAIL_REMOTE_HTTPD_MAX_BODY_MEMORY, default 67108864)"
    )
    var maxBodyMemory: Int?

    @Option(
        help:
            "Directory for bodies and messages that are spooled. (env QMAIL_REMOTE_HTTPD_SPOOL_DIR, default $TMPDIR or /tmp)"
    )
    var spoolDir: String?

    @Option(
        help:
            "Bodies and messages larger than this many bytes are spooled to disk. (env QMAIL_REMOTE_HTTPD_SPOOL_THRESHOLD, default 262144)"
    )
    var spoolThreshold: Int?

    @Option(
        help:
            "Seconds an SMTP connection is kept idle for the next message to the same server; 0 turns reuse off. (env QMAIL_REMOTE_HTTPD_SMTP_REUSE_IDLE, default 5)"
    )
    var smtpReuseIdle: Int?

    @Option(
        help:
            "Messages one SMTP connection carries at most. (env QMAIL_REMOTE_HTTPD_SMTP_REUSE_MESSAGES, default 100)"
    )
    var smtpReuseMessages: Int?

    @Option(
        help:
            "Where idempotency keys and the queue live: sqlite:PATH (one gateway per file) or postgresql://... (replicas share it). (env QMAIL_REMOTE_HTTPD_STORE, default \(StoreURL.defaultValue))"
    )
    var store: String?

    @Option(
        name: .customLong("idempotency-ttl"),
        help:
            "Seconds an Idempotency-Key's answer is kept, and a finished queued delivery's status. (env QMAIL_REMOTE_HTTPD_IDEMPOTENCY_TTL, default 86400)"
    )
    var idempotencyTTL: Int?

    @Option(
        help:
            "Queue retries of a deferred recipient at (base·n)² seconds after queuing: qmail-send's schedule with base 20 (400 s, 1600 s, 3600 s, ...). (env QMAIL_REMOTE_HTTPD_RETRY_BASE, default 20)"
    )
    var retryBase: Int?

    @Option(
        help:
            "Seconds a queue job this gateway claimed stays its own without renewal; after a crash, others take it over then. (env QMAIL_REMOTE_HTTPD_LEASE_SECONDS, default 60)"
    )
    var leaseSeconds: Int?

    @Flag(
        help:
            "Check GET /healthz of the running gateway; exit 0 when it answers 200 (for container health checks). The address is --listen if given, else the one the gateway announced when it started, else as for the gateway."
    )
    var probe = false

    func run() throws {
        if probe {
            let announced = ListenAnnouncement.read()
            let address = try listen.map(parseListen) ?? announced?.address ?? listenAddress()
            let https = try tlsSettings() != nil || (listen == nil && announced?.https == true)
            throw ExitCode(HealthProbe.healthy(address, https: https) ? 0 : 1)
        }
        let settings = try resolvedSettings()
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let logger = Logger(label: "qmail-remote-httpd")

        signal(SIGPIPE, SIG_IGN)
        raiseOpenFileLimit()
        // Blocked before any thread starts, so every thread inherits the mask
        // and the signals reach sigwait below.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let gateway: Gateway
        do {
            gateway = try Gateway(settings: settings, environment: .process, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["listen": "\(settings.listen)", "problem": "\(error)"])
            throw ExitCode(1)
        }
        let announced = ListenAnnouncement.write(settings.listen, https: settings.tls != nil)
        defer { if announced { ListenAnnouncement.remove(settings.listen) } }
        logger.info(
            "listening",
            metadata: [
                "listen": "\(settings.listen)", "authentication": "\(settings.tokens.isEmpty ? "none" : "bearer")",
                "tokens": .array(settings.tokens.map { "\($0.name)" }), "tls": "\(settings.tls != nil)",
                "client_certificates": "\(settings.requiresClientCertificate)",
                "concurrency_per_destination": "\(settings.destinationLimit)",
                "concurrency": "\(settings.concurrency)", "queue_length": "\(settings.queueLength)",
                "max_connections": "\(settings.maxConnections)",
                "max_active_connections": "\(settings.maxActiveConnections)",
                "connection_buffer_bytes": "\(settings.connectionBufferBytes)",
                "store": "\(gateway.store.url.masked)",
            ])

        var received: Int32 = 0
        while true {
            sigwait(&signals, &received)
            guard received == SIGHUP else { break }
            if let problem = gateway.reloadCertificate() {
                logger.error("certificate not reloaded", metadata: ["problem": "\(problem)"])
            } else {
                logger.info("certificate reloaded", metadata: ["certificate": "\(settings.tls?.certificateFile ?? "")"])
            }
        }
        logger.info("draining", metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")"])
        var stopping = sigset_t()
        sigemptyset(&stopping)
        sigaddset(&stopping, SIGTERM)
        sigaddset(&stopping, SIGINT)
        let drained = gateway.drain(interrupted: {
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            return sigtimedwait(&stopping, nil, &zero) > 0
        })
        if drained.interrupted {
            logger.warning("stopped at once", metadata: ["requests_open": "\(drained.requestsOpen)"])
            if announced { ListenAnnouncement.remove(settings.listen) }
            _exit(1)
        }
        logger.info(
            "stopped",
            metadata: [
                "requests_answered_at_deadline": "\(drained.answeredAtDeadline)",
                "requests_open": "\(drained.requestsOpen)",
                "queue_attempts_open": "\(drained.attemptsOpen)",
            ])
    }

    private func resolvedSettings() throws -> GatewaySettings {
        var settings = GatewaySettings()
        let address = try listen.map(parseListen) ?? listenAddress()
        settings.listen = address
        settings.maxMessageBytes = try number(
            maxMessageBytes, "MAX_MESSAGE_BYTES", settings.maxMessageBytes, "--max-message-bytes")
        settings.maxRecipients = try number(maxRecipients, "MAX_RECIPIENTS", settings.maxRecipients, "--max-recipients")
        settings.concurrency = try number(concurrency, "CONCURRENCY", settings.concurrency, "--concurrency")
        if concurrencyPerDestination != nil || environment("CONCURRENCY_PER_DESTINATION") != nil {
            settings.concurrencyPerDestination = try number(
                concurrencyPerDestination, "CONCURRENCY_PER_DESTINATION", 1, "--concurrency-per-destination")
        }
        if let text = allowDestinations ?? environment("ALLOW_DESTINATIONS") {
            switch DestinationPolicy.parseAllowed(text) {
            case .success(let ranges): settings.allowedDestinations = ranges
            case .failure(let bad):
                throw ValidationError("--allow-destinations: \(bad.text) is not an address or ADDRESS/BITS")
            }
        }
        settings.tls = try tlsSettings()
        settings.queueLength = try number(
            queueLength, "QUEUE_LENGTH", settings.queueLength, "--queue-length", minimum: 0)
        settings.drainTimeoutSeconds = try number(
            drainTimeout, "DRAIN_TIMEOUT", settings.drainTimeoutSeconds, "--drain-timeout", minimum: 0)
        settings.maxConnections = try number(
            maxConnections, "MAX_CONNECTIONS", settings.maxConnections, "--max-connections")
        settings.maxConnectionsPerIP = try number(
            maxConnectionsPerIP, "MAX_CONNECTIONS_PER_IP", settings.maxConnectionsPerIP, "--max-connections-per-ip")
        settings.maxActiveConnections = try number(
            maxActiveConnections, "MAX_ACTIVE_CONNECTIONS", settings.maxActiveConnections,
            "--max-active-connections")
        settings.idleTimeoutSeconds = try number(
            idleTimeout, "IDLE_TIMEOUT", settings.idleTimeoutSeconds, "--idle-timeout")
        settings.headerTimeoutSeconds = try number(
            headerTimeout, "HEADER_TIMEOUT", settings.headerTimeoutSeconds, "--header-timeout")
        settings.minBodyBytesPerSecond = try number(
            minBodyRate, "MIN_BODY_RATE", settings.minBodyBytesPerSecond, "--min-body-rate", minimum: 0)
        settings.maxBodyMemory = try number(
            maxBodyMemory, "MAX_BODY_MEMORY", settings.maxBodyMemory, "--max-body-memory", minimum: 0)
        settings.spoolThresholdBytes = try number(
            spoolThreshold, "SPOOL_THRESHOLD", settings.spoolThresholdBytes, "--spool-threshold", minimum: 0)
        settings.smtpReuseIdleSeconds = try number(
            smtpReuseIdle, "SMTP_REUSE_IDLE", settings.smtpReuseIdleSeconds, "--smtp-reuse-idle", minimum: 0)
        settings.smtpReuseMessages = try number(
            smtpReuseMessages, "SMTP_REUSE_MESSAGES", settings.smtpReuseMessages, "--smtp-reuse-messages")
        settings.spoolDirectory =
            spoolDir ?? environment("SPOOL_DIR") ?? getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        settings.store = store ?? environment("STORE") ?? settings.store
        settings.idempotencyTTLSeconds = try number(
            idempotencyTTL, "IDEMPOTENCY_TTL", settings.idempotencyTTLSeconds, "--idempotency-ttl")
        settings.retryBaseSeconds = try number(retryBase, "RETRY_BASE", settings.retryBaseSeconds, "--retry-base")
        settings.leaseSeconds = try number(
            leaseSeconds, "LEASE_SECONDS", settings.leaseSeconds, "--lease-seconds", minimum: 2)

        var tokens: [TokenPolicy] = []
        if let path = tokenFile ?? environment("TOKEN_FILE") {
            let lines: [[UInt8]]?
            do { lines = try ControlFile.lines(at: path) } catch {
                throw ValidationError("--token-file \(path): \(error.reason)")
            }
            guard let lines else { throw ValidationError("--token-file \(path): no such file") }
            do { tokens = try TokenFile.parse(lines) } catch {
                throw ValidationError("--token-file \(path): \(error.description)")
            }
        }
        if let inline = environment("TOKENS") {
            let given = inline.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" })
            for (index, token) in given.enumerated() {
                tokens.append(TokenPolicy(token: String(token), name: "env\(index + 1)"))
            }
        }
        settings.tokens = tokens
        if !settings.requiresClientCertificate,
            let entry = tokens.first(where: {
                if case .certificateSubject = $0.credential { return true }
                return false
            })
        {
            throw ValidationError(
                "--token-file: the entry \(entry.name) names a certificate subject; give --tls-client-ca")
        }
        if tokens.isEmpty && !address.isLoopback && !settings.requiresClientCertificate {
            throw ValidationError(
                "no bearer tokens are configured, so the gateway listens on loopback only; give --token-file or QMAIL_REMOTE_HTTPD_TOKENS (or --tls-client-ca) to listen on \(address)"
            )
        }
        return settings
    }

    private func tlsSettings() throws -> TLSSettings? {
        let certificate = tlsCert ?? environment("TLS_CERT")
        let key = tlsKey ?? environment("TLS_KEY")
        let clientCA = tlsClientCa ?? environment("TLS_CLIENT_CA")
        guard let certificate, let key else {
            if certificate != nil || key != nil { throw ValidationError("give both --tls-cert and --tls-key") }
            if clientCA != nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
            return nil
        }
        return TLSSettings(certificateFile: certificate, keyFile: key, clientCAFile: clientCA)
    }

    /// A connection is a descriptor, and so is each SMTP delivery and spool
    /// file: the usual soft limit of 1024 would refuse work long before
    /// --max-connections.
    private func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    private func listenAddress() throws -> ListenAddress {
        try parseListen(environment("LISTEN") ?? "127.0.0.1:8025")
    }

    private func parseListen(_ text: String) throws -> ListenAddress {
        guard let address = ListenAddress(text) else {
            throw ValidationError("--listen \(text): give IPv4:PORT, localhost:PORT or [IPv6]:PORT")
        }
        return address
    }

    private func environment(_ suffix: String) -> String? {
        guard let raw = getenv("QMAIL_REMOTE_HTTPD_" + suffix) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }

    private func number(_ flag: Int?, _ suffix: String, _ fallback: Int, _ name: String, minimum: Int = 1) throws -> Int
    {
        let value: Int
        if let flag {
            value = flag
        } else if let text = environment(suffix) {
            guard let parsed = Int(text) else {
                throw ValidationError("QMAIL_REMOTE_HTTPD_\(suffix)=\(text) is not a number")
            }
            value = parsed
        } else {
            value = fallback
        }
        guard value >= minimum else { throw ValidationError("\(name) must be at least \(minimum)") }
        return value
    }
}
