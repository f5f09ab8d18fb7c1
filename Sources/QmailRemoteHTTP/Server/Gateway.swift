// The running gateway: the Acceptor in front, libmicrohttpd behind it, and
// each request read top to bottom: head (GatewayEndpoint.plan) -> body
// (SpooledBytes) -> suspended while a request worker decodes it (a small
// one in memory is decoded on the library's thread) and DeliveryIntake
// delivers it (or queues it, or replays its key's answer) -> resumed with its
// answer. The library's thread never waits for a delivery or the store. Also the store and the queue's scheduler, and the drain:
// no new requests or claims, no final dot near the deadline, every request
// answered by it.

import Logging
import QmailRemote
import QmailSupport
#if canImport(Glibc)
import Glibc
#endif

public final class Gateway: MicroHTTPDHandler, @unchecked Sendable {
    // @unchecked: `library`, `acceptor` and `headsInProgress` are set up once
    // in `start`, then `headsInProgress` and `skipLibraryAnswers` are used on
    // libmicrohttpd's thread only (its callbacks).
    public let settings: GatewaySettings
    public let endpoint: GatewayEndpoint
    public let lifecycle: Lifecycle
    let telemetry: Telemetry
    let service: DeliveryService
    let table: ConnectionTable
    public let store: DeliveryStore
    let scheduler: QueueScheduler
    let intake: DeliveryIntake
    private let workers: WorkerPool
    private let listener: ListeningSocket
    /// HTTPS: the certificate new handshakes present (reloaded on SIGHUP).
    private let certificate: ServerCertificate?
    private var library: MicroHTTPD?
    private var acceptor: Acceptor?
    /// Requests whose request line is in and whose head has not reached the access handler.
    private var headsInProgress: [ObjectIdentifier: RequestContext] = [:]
    /// Answers of libmicrohttpd's that never reach the client (we answered on the socket first).
    private var skipLibraryAnswers = 0
    private let inFlightLock = Lock()
    private var inFlight: [ObjectIdentifier: RequestContext] = [:]

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Binds the listening socket (exclusively) and starts every thread.
    public init(settings: GatewaySettings, environment: Environment, logger: Logger) throws(StartError) {
        self.settings = settings
        guard SpoolFile.canSpool(in: settings.spoolDirectory) else {
            throw StartError(description: "cannot make a spool file in \(settings.spoolDirectory) (--spool-dir)")
        }
        var libraryTLS: MicroHTTPD.TLS?
        if let tls = settings.tls {
            do {
                // Handshakes are cut at the header timeout: a replaced certificate is kept well past it.
                certificate = try ServerCertificate(
                    tls, graceSeconds: Double(max(60, 3 * settings.headerTimeoutSeconds)))
                libraryTLS = MicroHTTPD.TLS(
                    priorities: TLSSettings.priorities, certificateCallback: ServerCertificate.retrieveFunction,
                    clientCA: try tls.clientCAFile.map(Self.clientCA))
            } catch {
                throw StartError(description: error.description)
            }
        } else {
            certificate = nil
        }
        let lifecycle = Lifecycle()
        let table = ConnectionTable(settings: settings)
        let bodyMemory = BodyMemory(limit: settings.maxBodyMemory)
        let connections = ConnectionCache(
            idleSeconds: settings.smtpReuseIdleSeconds, messagesPerConnection: settings.smtpReuseMessages,
            connectionsPerDestination: settings.concurrency)
        let metrics = Metrics(
            gauges: { [table, bodyMemory] in
                let counts = table.counts
                return (counts.waiting, counts.active, bodyMemory.inUse)
            }, connections: connections, queue: QueueGauges())
        let telemetry = Telemetry(metrics: metrics, logger: logger)
        self.lifecycle = lifecycle
        self.table = table
        self.telemetry = telemetry
        endpoint = GatewayEndpoint(
            settings: settings, lifecycle: lifecycle, bodyMemory: bodyMemory,
            messageIDHost: MessageIDHost(environment: environment), metricsText: metrics.prometheusText)
        let service = DeliveryService(
            pool: WorkerPool(
                threads: settings.concurrency, capacity: settings.queueLength, perDestination: settings.destinationLimit
            ),
            environment: environment, lifecycle: lifecycle, telemetry: telemetry, connections: connections,
            destinationPolicy: DestinationPolicy(allowed: settings.allowedDestinations))
        self.service = service
        workers = WorkerPool(threads: Self.cpuCount, capacity: nil, stackSize: 512 << 10)
        do {
            listener = try ListeningSocket(
                settings.listen, backlog: 4096, receiveBuffer: Self.receiveBuffer(forHead: settings))
        } catch {
            throw StartError(description: error.description)
        }
        // After the port, so that a second gateway on it is told the port is in use.
        do {
            var options = StoreOptions()
            // Requests and deliveries keep many small writes in flight: with a
            // writer thread each, eight PostgreSQL write connections took 1.6x
            // the queued requests of three (bench/queue.sh's load).
            options.postgresWriters = 8
            store = try DeliveryStore.open(try StoreURL(parsing: settings.store), options: options)
        } catch {
            close(listener.fd)
            throw StartError(description: "--store: \(error)")
        }
        let callers = StoreCallers(limit: 64)
        let context = QueueContext(
            store: store, callers: callers, lifecycle: lifecycle, telemetry: telemetry,
            lifetime: QueueLifetime(
                controlDirectory: environment.controlDirectory, retryBase: Int64(settings.retryBaseSeconds)),
            leaseSeconds: Int64(settings.leaseSeconds),
            deliver: { [service] request, message in service.deliverQueued(request, message: message) })
        // Enough claimed jobs that the delivery threads never wait for the next
        // claim; fewer with PostgreSQL, whose claims carry every body in memory
        // (SQLite's larger bodies stay in their files).
        let claimsPerThread = if case .postgresql = store.url { 2 } else { 4 }
        scheduler = QueueScheduler(
            context: context, pool: service.pool, claimLimit: claimsPerThread * settings.concurrency,
            retentionSeconds: Int64(settings.idempotencyTTLSeconds))
        intake = DeliveryIntake(
            store: store, service: service, callers: callers, scheduler: scheduler, endpoint: endpoint,
            idempotencyTTLSeconds: Int64(settings.idempotencyTTLSeconds))
        guard let library = MicroHTTPD(handler: self, settings: settings, tls: libraryTLS) else {
            close(listener.fd)
            throw StartError(description: "libmicrohttpd did not start")
        }
        self.library = library
        let acceptor = Acceptor(
            listener: listener, settings: settings, table: table, endpoint: endpoint, telemetry: telemetry,
            lifecycle: lifecycle,
            serve: { fd, address, length in library.serve(fd: fd, address: address, length: length) })
        self.acceptor = acceptor
        guard acceptor.start() else { throw StartError(description: "no thread for the acceptor") }
        guard scheduler.start() else { throw StartError(description: "no thread for the queue") }
    }

    /// The port listened on (the one asked for, or the one given for port 0).
    public var port: UInt16 { listener.port }

    /// SIGHUP: reads the HTTPS certificate and key again; new connections
    /// get them, connections already open keep theirs. On failure the one
    /// in use stays, and the reason is returned.
    public func reloadCertificate() -> String? {
        guard let certificate else { return "no --tls-cert is configured" }
        do { try certificate.reload() } catch { return error.description }
        return nil
    }

    private static func clientCA(_ path: String) throws(ServerCertificate.Failure) -> [UInt8] {
        let pem: [UInt8]?
        do { pem = try ControlFile.contents(at: path) } catch {
            throw ServerCertificate.Failure(description: "--tls-client-ca \(path): \(error.reason)")
        }
        guard let pem, pem.count > 27, String(decoding: pem, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----")
        else {
            throw ServerCertificate.Failure(description: "--tls-client-ca \(path): no PEM certificate in it")
        }
        return pem
    }

    // MARK: - libmicrohttpd's calls

    func connectionStarted(_ connection: MHDConnection) -> ClientConnection? { table.started(fd: connection.fd) }

    func connectionClosed(_ client: ClientConnection) { table.closed(client) }

    func requestLineReceived(
        _ target: [UInt8], on client: ClientConnection?, connection: MHDConnection
    )
        -> RequestContext
    {
        let request = RequestContext(target: target, client: client, connection: connection)
        table.requestLine(client, request: request)
        headsInProgress[ObjectIdentifier(request)] = request
        inFlightLock.withLock { inFlight[ObjectIdentifier(request)] = request }
        return request
    }

    func handle(
        _ request: RequestContext, client: ClientConnection?, connection: MHDConnection,
        upload: UnsafeRawBufferPointer?
    ) -> Bool {
        guard let upload else { return head(request, client: client, connection: connection) }
        if upload.count > 0 { return bodyPiece(request, client: client, connection: connection, upload) }
        if let response = request.takeReady() {
            request.suspended = false
            return connection.queue(response, requestID: request.id)
        }
        if request.suspended { return true }
        return bodyComplete(request, client: client, connection: connection)
    }

    /// The first call: the head is in.
    private func head(_ request: RequestContext, client: ClientConnection?, connection: MHDConnection) -> Bool {
        headsInProgress[ObjectIdentifier(request)] = nil
        let head = connection.head(target: request.target, method: request.method, version: request.version)
        if settings.requiresClientCertificate, let client, !client.certificateChecked {
            client.certificateChecked = true
            switch connection.tlsSession?.peerCertificate ?? .none {
            case .verified(let subject): client.certificateSubject = subject
            case .none: break
            case .refused(let reason): telemetry.clientCertificateRefused(client.peer.description, reason: reason)
            }
        }
        let (plan, summary) =
            if let refusal = client?.refusal {
                Self.refusal(refusal)
            } else if request.targetHadNUL {
                Self.refusal(.invalidTarget("the request target contains a NUL byte"))
            } else {
                endpoint.plan(head, certificateSubject: client?.certificateSubject)
            }
        request.plan = plan
        request.summary = summary
        switch plan {
        case .answer(let response) where response.status >= 400:
            // A refusal goes out before any body is read (a client that sent
            // Expect: 100-continue never sends it); the library then closes.
            guard table.move(client, to: .busy) else { return false }
            request.queued(status: response.status)
            return connection.queue(response, requestID: request.id)
        case .answer, .lookUpDelivery:
            // Answered once the request is complete, so the connection stays open.
            return table.move(client, to: .body(since: Clock.seconds(), bytes: 0))
        case .readJSON(let limit, _), .readRaw(_, let limit, _), .readCompose(let limit, _):
            guard table.move(client, to: .body(since: Clock.seconds(), bytes: 0)) else { return false }
            request.body = endpoint.makeStore(limit: limit)
            return true
        }
    }

    private func bodyPiece(
        _ request: RequestContext, client: ClientConnection?, connection: MHDConnection,
        _ upload: UnsafeRawBufferPointer
    ) -> Bool {
        guard let body = request.body else { return true }
        body.append(upload)
        table.bodyBytes(client, upload.count)
        guard body.tooLarge else { return true }
        // A chunked body past the limit: the library cannot queue an answer
        // before the body ends, so it is written on the socket now.
        answerOnSocket(request, client: client, connection: connection, .tooLargeWhileArriving(body.limit))
        return false
    }

    /// The final call: the body is in; the rest happens off this thread.
    private func bodyComplete(
        _ request: RequestContext, client: ClientConnection?, connection: MHDConnection
    )
        -> Bool
    {
        guard case .some(let plan) = request.plan, table.move(client, to: .busy) else { return false }
        if case .answer(let response) = plan {
            request.queued(status: response.status)
            return connection.queue(response, requestID: request.id)
        }
        request.suspended = true
        connection.suspend()
        if case .lookUpDelivery(let id, let access) = plan {
            intake.lookUp(id: id, access: access) { [self] response, summary in
                request.summary = summary
                finish(request, connection, response)
            }
            return true
        }
        let decode = WorkerPool.Job { [self] in
            let body = request.body
            request.body = nil
            let (prepared, summary) = endpoint.prepare(plan, body: body)
            request.summary = summary
            switch prepared {
            case .answer(let response):
                finish(request, connection, response)
            case .deliver(let submission, let access):
                // Never waits: deliveries go to the pool, store work to its own threads.
                intake.accept(submission, access) { [self] response, summary in
                    request.summary = summary
                    finish(request, connection, response)
                }
            }
        }
        // A small body in memory is decoded here: the hand-off to a request
        // worker and its wake-up cost more than the decoding (6 to 22% of the
        // gateway's CPU per 1 KB delivery). Not a message to build: building
        // takes longer, and on this one thread it would keep other requests
        // waiting (bench/compose.sh: 0.79 of /v1/deliveries built here, 0.87
        // on the request workers, interleaved on a quiet machine).
        let buildsMessage = if case .readCompose = plan { true } else { false }
        if !buildsMessage, let body = request.body, body.isInMemory, body.count <= Self.decodedHereBytes {
            decode.run()
            return true
        }
        if !workers.submit([decode]) { finish(request, connection, APIError.overloaded.response) }
        return true
    }

    /// Bodies up to this size, in memory, are decoded on libmicrohttpd's thread.
    static let decodedHereBytes = 16 << 10

    /// The answer for a suspended request; the library queues it on its next call.
    private func finish(_ request: RequestContext, _ connection: MHDConnection, _ response: HTTPResponse) {
        if request.respond(response) { connection.resume() }
    }

    /// Writes the refusal on the socket (nothing else was written for this
    /// request), stops writing, and leaves reading the rest to the Acceptor.
    private func answerOnSocket(
        _ request: RequestContext, client: ClientConnection?, connection: MHDConnection, _ error: APIError
    ) {
        guard table.abandon(client), request.answeredOnSocket(error) else { return }
        let fd = connection.fd
        SocketAnswer.write(error.response, requestID: request.id, on: fd, tls: connection.tlsSession)
        SocketAnswer.finishWriting(fd)
        let copy = dup(fd)
        if copy >= 0 { acceptor?.linger(copy) }
    }

    func requestCompleted(_ request: RequestContext, client: ClientConnection?, answered: Bool, queuedStatus: Int?) {
        headsInProgress[ObjectIdentifier(request)] = nil
        inFlightLock.withLock { inFlight[ObjectIdentifier(request)] = nil }
        table.move(client, to: .idle(since: Clock.seconds()))
        var record = RequestRecord(
            id: request.id, method: request.method.isEmpty ? "-" : request.method, path: request.path,
            client: client?.peer.description ?? "?", status: nil, started: request.started)
        record.summary = request.summary
        if let given = request.given {
            record.status = given.socketCode != nil || answered ? given.status : nil
            if let code = given.socketCode { record.summary.error = code }
        } else if let queuedStatus {
            // libmicrohttpd refused the request itself (counted when it said so).
            record.status = queuedStatus
            record.answeredByLibrary = true
        }
        telemetry.requestFinished(record)
    }

    func libraryMessage(_ text: String) {
        if let status = Self.libraryAnswerStatus(text) {
            if skipLibraryAnswers > 0 {
                skipLibraryAnswers -= 1
            } else {
                telemetry.libraryAnswered(status: status)
            }
        } else if let error = Self.contentLengthRefusal(text) {
            answerBeforeLibrary(error)
        }
        telemetry.libraryProblem(text)
    }

    /// libmicrohttpd refuses a bad Content-Length with its status line and
    /// headers twice over. The request it is refusing is the one whose head
    /// is complete but has not reached the access handler (the library works
    /// one connection at a time on its one thread): answer it first, on the
    /// socket, so that the client gets exactly one answer, ours.
    private func answerBeforeLibrary(_ error: APIError) {
        for request in headsInProgress.values {
            guard let connection = request.connection, connection.headIsComplete, !connection.hasQueuedAnswer else {
                continue
            }
            headsInProgress[ObjectIdentifier(request)] = nil
            request.method = "-"
            answerOnSocket(request, client: request.client, connection: connection, error)
            skipLibraryAnswers += 1
            return
        }
    }

    private static func refusal(_ error: APIError) -> (RequestPlan, RequestSummary) {
        var summary = RequestSummary()
        summary.error = error.code
        return (.answer(error.response), summary)
    }

    /// The status in "Error processing request (HTTP response code is 400 (...)". Closing connection."
    static func libraryAnswerStatus(_ text: String) -> Int? {
        let marker = Array("HTTP response code is ".utf8)
        let bytes = Array(text.utf8)
        guard bytes.count > marker.count else { return nil }
        for start in 0...(bytes.count - marker.count) where bytes[start..<(start + marker.count)].elementsEqual(marker)
        {
            let digits = bytes[(start + marker.count)...].prefix(3)
            return Int(String(decoding: digits, as: UTF8.self))
        }
        return nil
    }

    static func contentLengthRefusal(_ text: String) -> APIError? {
        if text.hasPrefix("Failed to parse `Content-Length'") {
            return .invalidFraming("Content-Length is not a number")
        }
        if text.hasPrefix("Too large value of 'Content-Length'") { return .tooLargeWhileArriving(Int.max) }
        return nil
    }

    // MARK: - The drain

    public struct DrainResult: Sendable {
        /// A second signal came: the caller stops at once.
        public var interrupted = false
        /// Requests the deadline answered (not their deliveries).
        public var answeredAtDeadline = 0
        /// Requests still open when the gateway stopped waiting (their answers not written yet).
        public var requestsOpen = 0
        /// Queue attempts still running at the deadline (their leases run out; the next claim judges them).
        public var attemptsOpen = 0
    }

    /// Stops taking requests, lets those in flight finish (no final dot in the
    /// last `finalDotMarginSeconds`), answers every one still open at the
    /// deadline, and stops. `interrupted` is asked while waiting: true stops
    /// at once.
    public func drain(interrupted: () -> Bool) -> DrainResult {
        var result = DrainResult()
        let deadline = Clock.seconds() + Double(settings.drainTimeoutSeconds)
        lifecycle.beginDraining()
        acceptor?.stopAccepting()
        scheduler.drain()
        while requestsInFlight + scheduler.attemptsInFlight > 0 && Clock.seconds() < deadline {
            if interrupted() {
                result.interrupted = true
                result.requestsOpen = requestsInFlight
                result.attemptsOpen = scheduler.attemptsInFlight
                return result
            }
            if !lifecycle.finalDotsStopped && Clock.seconds() >= deadline - settings.finalDotMarginSeconds {
                service.stopFinalDots()
            }
            usleep(10_000)
        }
        service.stopFinalDots()
        result.answeredAtDeadline = requestsInFlight
        // The deadline: deliveries still running are answered by what their
        // gates know; requests still decoding get 503; requests still
        // arriving get 503 on the socket; idle connections are closed.
        service.finishAllNow()
        for request in inFlightLock.withLock({ Array(inFlight.values) }) where request.suspended {
            if request.respond(APIError.shuttingDown.response), let connection = request.connection {
                connection.resume()
            }
        }
        table.closeForDrain()
        acceptor?.closeWaiting()
        // The answers need a moment to be written.
        let flushed = Clock.seconds() + 1
        while requestsInFlight > 0 && Clock.seconds() < flushed {
            if interrupted() {
                result.interrupted = true
                break
            }
            usleep(10_000)
        }
        result.requestsOpen = requestsInFlight
        result.attemptsOpen = scheduler.attemptsInFlight
        // Every SMTP connection kept for reuse gets its QUIT.
        if !result.interrupted { service.connections?.closeAll() }
        // The library aborts when stopped with a connection suspended.
        if !result.interrupted && result.requestsOpen == 0 && !anySuspended { library?.stop() }
        return result
    }

    private var requestsInFlight: Int { inFlightLock.withLock { inFlight.count } }

    private var anySuspended: Bool { inFlightLock.withLock { inFlight.values.contains { $0.suspended } } }

    static let cpuCount = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))

    /// A first request head waits in the kernel's receive buffer until it is
    /// complete: when the longest head is more than the default buffer lets
    /// a client send unread, the listening socket gets a bigger one.
    static func receiveBuffer(forHead settings: GatewaySettings) -> Int? {
        let head = settings.maxRequestLineBytes + settings.maxHeaderBytes
        var defaultBuffer = 131_072
        if let text = try? ControlFile.lines(at: "/proc/sys/net/ipv4/tcp_rmem")?.first,
            let second = String(decoding: text, as: UTF8.self).split(separator: "\t").dropFirst().first
                ?? String(decoding: text, as: UTF8.self).split(separator: " ").dropFirst().first,
            let value = Int(second)
        {
            defaultBuffer = value
        }
        return head * 2 <= defaultBuffer ? nil : head * 4
    }
}
