// The gateway's front door, on one thread of its own: accepts connections,
// lets each wait (at the cost of a socket: its bytes stay in the kernel)
// until its first request head is complete, refuses what cannot be trusted
// or taken (with a JSON answer written on the socket, then a lingering
// close), and hands the rest to libmicrohttpd, at most
// --max-active-connections at once. It also runs the deadline sweep over the
// connections libmicrohttpd serves, and the lingering closes of answers
// written by others. Under HTTPS a connection waits here until its first TLS
// record (the ClientHello) is complete; plain HTTP sent to the HTTPS port is
// answered 400 https_required in plain text; anything else is closed.

import QmailSupport
internal import CEpoll
#if canImport(Glibc)
import Glibc
#endif

final class Acceptor: @unchecked Sendable {
    // @unchecked: everything but the inbox is used on the acceptor's thread
    // only; the inbox is read and written under `inboxLock`.
    private let listener: ListeningSocket
    private let settings: GatewaySettings
    private let table: ConnectionTable
    private let endpoint: GatewayEndpoint
    private let telemetry: Telemetry
    private let lifecycle: Lifecycle
    private let serve: @Sendable (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    private let epoll: Int32
    private let wake: Int32
    private var scratch: [UInt8]
    private var waiting: [Int32: Waiting] = [:]
    /// Waiting connections whose head is complete and fine, waiting for room.
    private var ready: Set<Int32> = []
    private var lingering: [Int32: Double] = [:]
    private var listening = true
    private var acceptPausedUntil: Double?
    private var lastSweep = 0.0

    private let inboxLock = Lock()
    private var inboxLinger: [Int32] = []
    private var inboxCommands: [Command] = []
    private let commandsDone = Condition()
    private var commandsPending = 0

    /// How long an answered connection is read and dropped before it is closed.
    static let lingerSeconds = 2.0
    static let maxLingering = 1024

    private struct Waiting {
        let peer: Peer
        var address: sockaddr_storage
        let length: socklen_t
        let accepted: Double
        let overLimit: Bool
        var bytes = 0
        var requestLineSeen = false
        /// Speaks plain HTTP (always, without TLS): refusals are written as such.
        var plainHTTP: Bool
        /// Complete and fine, waiting for room in libmicrohttpd.
        var readyHead: RequestHead?
    }

    private enum Command {
        /// Take what is in the listen queue, then close the listening socket.
        case stopAccepting
        /// The drain deadline: every waiting connection is answered or closed.
        case closeWaiting
    }

    init(
        listener: ListeningSocket, settings: GatewaySettings, table: ConnectionTable, endpoint: GatewayEndpoint,
        telemetry: Telemetry, lifecycle: Lifecycle,
        serve: @escaping @Sendable (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) {
        self.listener = listener
        self.settings = settings
        self.table = table
        self.endpoint = endpoint
        self.telemetry = telemetry
        self.lifecycle = lifecycle
        self.serve = serve
        epoll = cepoll_create()
        wake = cepoll_eventfd()
        scratch = [UInt8](repeating: 0, count: settings.maxRequestLineBytes + settings.maxHeaderBytes + 4)
        watch(listener.fd, events: CEPOLL_IN)
        watch(wake, events: CEPOLL_IN)
    }

    func start() -> Bool { Threads.start(stackSize: 1 << 20) { self.run() } }

    /// From any thread: a socket answered by someone else, to be read and
    /// dropped for a while and then closed (a descriptor of its own, from dup).
    func linger(_ fd: Int32) {
        inboxLock.withLock { inboxLinger.append(fd) }
        signal()
    }

    /// The drain: accepts what is already queued (those requests get 503),
    /// then closes the listening socket. Returns when done.
    func stopAccepting() { perform(.stopAccepting) }

    /// The drain deadline: waiting connections get 503 or are closed. Returns when done.
    func closeWaiting() { perform(.closeWaiting) }

    private func perform(_ command: Command) {
        inboxLock.withLock {
            inboxCommands.append(command)
            commandsPending += 1
        }
        signal()
        inboxLock.withLock { while commandsPending > 0 { inboxLock.wait(on: commandsDone) } }
    }

    private func signal() {
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    // MARK: - The loop

    private func run() {
        var fds = [Int32](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)
        while true {
            let pendingRoom = !ready.isEmpty
            let count = cepoll_wait(epoll, &fds, &events, Int32(fds.count), pendingRoom ? 20 : 100)
            let now = Clock.seconds()
            for (fd, event) in zip(fds, events).prefix(max(0, Int(count))) {
                if fd == listener.fd {
                    acceptAll(now: now)
                } else if fd == wake {
                    readInbox(now: now)
                } else if lingering[fd] != nil {
                    drainLingering(fd)
                } else if waiting[fd] != nil {
                    examine(fd, now: now, hungUp: event & (CEPOLL_RDHUP | CEPOLL_HUP) != 0)
                }
            }
            if let paused = acceptPausedUntil, now >= paused, listening {
                acceptPausedUntil = nil
                modify(listener.fd, events: CEPOLL_IN)
            }
            if pendingRoom { offerWaitingHeads(now: now) }
            if now - lastSweep >= 0.1 {
                lastSweep = now
                sweep(now: now)
            }
        }
    }

    private func acceptAll(now: Double) {
        while listening {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    cepoll_accept(listener.fd, $0, &length)
                }
            }
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    // Out of descriptors: the kernel keeps them queued; look again shortly.
                    acceptPausedUntil = now + 0.1
                    modify(listener.fd, events: 0)
                }
                return
            }
            let peer = Peer(address)
            let admission = table.admit(peer)
            if case .refused = admission {
                close(fd)
                telemetry.connectionClosed(.tooManyConnections)
                continue
            }
            var overLimit = false
            if case .overLimit = admission { overLimit = true }
            waiting[fd] = Waiting(
                peer: peer, address: address, length: length, accepted: now, overLimit: overLimit,
                plainHTTP: settings.tls == nil)
            watch(fd, events: CEPOLL_IN | CEPOLL_RDHUP | CEPOLL_EDGE)
            examine(fd, now: now, hungUp: false)
        }
    }

    /// Looks at what a waiting connection has sent so far, without taking it.
    private func examine(_ fd: Int32, now: Double, hungUp: Bool) {
        guard var connection = waiting[fd], connection.readyHead == nil else { return }
        let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK)) }
        if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
            closeWaiting(fd)
            return
        }
        if count < 0 { return }
        connection.bytes = count
        if settings.tls != nil {
            switch TLSRecordScan.scan(scratch[0..<count]) {
            case .incomplete:
                waiting[fd] = connection
                if hungUp { closeWaiting(fd) }
                return
            case .notTLS:
                closeWaiting(fd)
                return
            case .plainHTTP:
                connection.plainHTTP = true
            case .complete:
                // No head to read under TLS: the library reads it after the handshake.
                connection.readyHead = RequestHead(method: "-", target: [])
                waiting[fd] = connection
                ready.insert(fd)
                handOver(fd)
                return
            }
        }
        let scan = scratch.withUnsafeBytes {
            HeadParser.scan(
                UnsafeRawBufferPointer(rebasing: $0[0..<count]), maxRequestLine: settings.maxRequestLineBytes,
                maxHeaderBytes: settings.maxHeaderBytes)
        }
        switch scan {
        case .incomplete(let requestLineSeen):
            connection.requestLineSeen = requestLineSeen
            waiting[fd] = connection
            if hungUp { closeWaiting(fd) }
        case .refused(let error):
            answerWaiting(fd, error, head: nil)
        case .complete(let head, _):
            if settings.tls != nil { return answerWaiting(fd, .httpsRequired, head: head) }
            if lifecycle.isDraining { return answerWaiting(fd, .shuttingDown, head: head) }
            if connection.overLimit {
                telemetry.connectionClosed(.tooManyConnections)
                return answerWaiting(fd, .tooManyConnections, head: head)
            }
            do { _ = try endpoint.screen(head) } catch { return answerWaiting(fd, error, head: head) }
            connection.readyHead = head
            waiting[fd] = connection
            ready.insert(fd)
            handOver(fd)
        }
    }

    /// Gives the connection to libmicrohttpd if it has room (making room by
    /// closing the connection idle the longest); otherwise it waits here.
    private func handOver(_ fd: Int32) {
        guard let connection = waiting[fd] else { return }
        guard table.hasRoomToServe else {
            table.evictIdle(for: ready.count)
            return
        }
        waiting[fd] = nil
        ready.remove(fd)
        unwatch(fd)
        if connection.overLimit { telemetry.connectionClosed(.tooManyConnections) }
        // Only HTTPS connections come here over a limit: their answer needs the library's TLS.
        let client = table.handOver(
            fd: fd, peer: connection.peer, refusal: connection.overLimit ? .tooManyConnections : nil)
        var address = connection.address
        let served = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { serve(fd, $0, connection.length) }
        }
        if !served { table.closed(client) }
    }

    private func offerWaitingHeads(now: Double) {
        for fd in ready {
            guard let connection = waiting[fd] else { continue }
            if table.hasRoomToServe {
                handOver(fd)
            } else if now - connection.accepted > Double(settings.headerTimeoutSeconds) {
                telemetry.connectionClosed(.tooManyConnections)
                if connection.plainHTTP {
                    answerWaiting(fd, .tooManyConnections, head: connection.readyHead)
                } else {
                    closeWaiting(fd)
                }
            } else {
                table.evictIdle(for: ready.count)
            }
        }
    }

    // MARK: - Answers and closes of waiting connections

    /// Writes the refusal on the socket, logs the request, and lingers.
    private func answerWaiting(_ fd: Int32, _ error: APIError, head: RequestHead?) {
        guard let connection = waiting.removeValue(forKey: fd) else { return }
        ready.remove(fd)
        table.forgetWaiting(connection.peer)
        let id = RequestContext.makeID()
        SocketAnswer.write(error.response, requestID: id, on: fd)
        SocketAnswer.finishWriting(fd)
        var record = RequestRecord(
            id: id, method: head?.method ?? "-",
            path: head.map { String(decoding: $0.target.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self) } ?? "-",
            client: connection.peer.description, status: error.status, started: connection.accepted)
        record.summary.error = error.code
        telemetry.requestFinished(record)
        startLingering(fd, watched: true)
    }

    private func closeWaiting(_ fd: Int32) {
        guard let connection = waiting.removeValue(forKey: fd) else { return }
        ready.remove(fd)
        unwatch(fd)
        close(fd)
        table.forgetWaiting(connection.peer)
    }

    private func sweep(now: Double) {
        for (fd, connection) in waiting where connection.readyHead == nil {
            guard now - connection.accepted > Double(settings.headerTimeoutSeconds) else { continue }
            telemetry.connectionClosed(.headerTimeout)
            if connection.requestLineSeen {
                answerWaiting(
                    fd, .requestTimeout("the request head did not arrive in \(settings.headerTimeoutSeconds) s"),
                    head: nil)
            } else {
                closeWaiting(fd)
            }
        }
        for (fd, deadline) in lingering where now >= deadline { stopLingering(fd) }
        let swept = table.sweep(now: now)
        for _ in 0..<swept.headTimeouts { telemetry.connectionClosed(.headerTimeout) }
        for _ in 0..<swept.slowBodies { telemetry.connectionClosed(.bodyTooSlow) }
    }

    // MARK: - Lingering closes

    private func startLingering(_ fd: Int32, watched: Bool) {
        if lingering.count >= Self.maxLingering {
            if watched { unwatch(fd) }
            close(fd)
            return
        }
        lingering[fd] = Clock.seconds() + Self.lingerSeconds
        if watched {
            modify(fd, events: CEPOLL_IN | CEPOLL_RDHUP)
        } else {
            watch(fd, events: CEPOLL_IN | CEPOLL_RDHUP)
        }
        drainLingering(fd)
    }

    /// Reads and drops what the client still sends; closes at its end.
    private func drainLingering(_ fd: Int32) {
        while true {
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { continue }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            stopLingering(fd)
            return
        }
    }

    private func stopLingering(_ fd: Int32) {
        lingering[fd] = nil
        unwatch(fd)
        close(fd)
    }

    private func readInbox(now: Double) {
        var count: UInt64 = 0
        _ = read(wake, &count, 8)
        let (fds, commands) = inboxLock.withLock {
            defer {
                inboxLinger = []
                inboxCommands = []
            }
            return (inboxLinger, inboxCommands)
        }
        for fd in fds { startLingering(fd, watched: false) }
        for command in commands {
            switch command {
            case .stopAccepting:
                acceptAll(now: now)
                if listening {
                    listening = false
                    unwatch(listener.fd)
                    close(listener.fd)
                }
            case .closeWaiting:
                for (fd, connection) in waiting {
                    if connection.bytes > 0 && connection.plainHTTP {
                        answerWaiting(fd, .shuttingDown, head: connection.readyHead)
                    } else {
                        closeWaiting(fd)
                    }
                }
            }
            inboxLock.withLock {
                commandsPending -= 1
                commandsDone.broadcast()
            }
        }
    }

    // MARK: - epoll

    private func watch(_ fd: Int32, events: UInt32) { _ = cepoll_control(epoll, 0, fd, events) }

    private func modify(_ fd: Int32, events: UInt32) { _ = cepoll_control(epoll, 1, fd, events) }

    private func unwatch(_ fd: Int32) { _ = cepoll_control(epoll, 2, fd, 0) }
}
