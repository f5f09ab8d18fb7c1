// Every open connection, counted in one place: the ones still waiting for
// their first request head (held by the Acceptor, in the kernel's buffers)
// and the ones libmicrohttpd serves, each in a phase with a deadline. The
// limits (in all, per address, served at once) and the deadlines are decided
// here, under one lock; sockets are shut down under it too, so a descriptor
// can never be reused by another connection in between (the library closes
// one only after telling us, which waits for the lock).

#if canImport(Glibc)
import QmailSupport
import Glibc
#endif

/// A connection libmicrohttpd serves.
final class ClientConnection: @unchecked Sendable {
    // @unchecked: `phase` and `request` are read and written under the table's lock only;
    // `certificateSubject` and `certificateChecked` on libmicrohttpd's thread only.
    let fd: Int32
    let peer: Peer
    var phase: Phase
    /// The request in progress, for answers written by the deadline sweep.
    var request: RequestContext?
    /// HTTPS with client certificates: the subject of this connection's
    /// certificate once verified (looked at on the first request, on the library's thread).
    var certificateSubject: String?
    var certificateChecked = false
    /// HTTPS: a connection over a limit is served (a TLS answer needs the
    /// library) and its first request gets this refusal.
    let refusal: APIError?

    enum Phase {
        /// Given to the library, which has not started it yet.
        case handingOver
        /// After an answer, waiting for the next request.
        case idle(since: Double)
        /// The request line (or a first head) is in; the rest of the head is due.
        case head(since: Double)
        case body(since: Double, bytes: Int)
        /// Being processed, or its answer being written.
        case busy
        /// Shut down by the gateway; the library will close it.
        case abandoned
    }

    init(fd: Int32, peer: Peer, phase: Phase, refusal: APIError? = nil) {
        self.fd = fd
        self.peer = peer
        self.phase = phase
        self.refusal = refusal
    }
}

final class ConnectionTable: @unchecked Sendable {
    // @unchecked: every var below is read and written under `lock` only.
    let settings: GatewaySettings
    private let lock = Lock()
    private var perPeer: [Peer: Int] = [:]
    private var waiting = 0
    private var active: [Int32: ClientConnection] = [:]

    init(settings: GatewaySettings) { self.settings = settings }

    enum Admission {
        case admitted
        /// Over a limit: read its head and answer 503.
        case overLimit
        /// Far over a limit: close at once.
        case refused
    }

    /// A new connection from `peer`: counted unless refused.
    func admit(_ peer: Peer) -> Admission {
        let reserve = max(64, settings.maxConnections / 16)
        let peerReserve = max(8, settings.maxConnectionsPerIP / 8)
        return lock.withLock {
            let total = waiting + active.count
            let fromPeer = perPeer[peer, default: 0]
            if total >= settings.maxConnections + reserve || fromPeer >= settings.maxConnectionsPerIP + peerReserve {
                return .refused
            }
            waiting += 1
            perPeer[peer] = fromPeer + 1
            return total >= settings.maxConnections || fromPeer >= settings.maxConnectionsPerIP ? .overLimit : .admitted
        }
    }

    /// A waiting connection was closed without being handed over.
    func forgetWaiting(_ peer: Peer) {
        lock.withLock {
            waiting -= 1
            release(peer)
        }
    }

    /// Whether libmicrohttpd may serve one more connection now.
    var hasRoomToServe: Bool { lock.withLock { active.count < settings.maxActiveConnections } }

    /// A waiting connection goes to libmicrohttpd.
    func handOver(fd: Int32, peer: Peer, refusal: APIError? = nil) -> ClientConnection {
        let client = ClientConnection(fd: fd, peer: peer, phase: .handingOver, refusal: refusal)
        lock.withLock {
            waiting -= 1
            // A descriptor is reused only after the library said it closed the
            // last connection on it; an entry still here was never started.
            if let stale = active[fd] { release(stale.peer) }
            active[fd] = client
        }
        return client
    }

    /// The library started serving the connection on `fd`.
    func started(fd: Int32) -> ClientConnection? {
        lock.withLock {
            guard let client = active[fd] else { return nil }
            client.phase = .head(since: Clock.seconds())
            return client
        }
    }

    /// The library closed the connection (or never took it).
    func closed(_ client: ClientConnection) {
        lock.withLock {
            if active[client.fd] === client { active[client.fd] = nil }
            client.request = nil
            release(client.peer)
        }
    }

    var counts: (waiting: Int, active: Int) { lock.withLock { (waiting, active.count) } }

    /// Changes a connection's phase unless the gateway abandoned it; false if it did.
    @discardableResult
    func move(_ client: ClientConnection?, to phase: ClientConnection.Phase) -> Bool {
        guard let client else { return true }
        return lock.withLock {
            if case .abandoned = client.phase { return false }
            client.phase = phase
            return true
        }
    }

    /// The request line of a new request came in on a kept-alive connection.
    func requestLine(_ client: ClientConnection?, request: RequestContext) {
        guard let client else { return }
        lock.withLock {
            client.request = request
            if case .idle = client.phase { client.phase = .head(since: Clock.seconds()) }
        }
    }

    func bodyBytes(_ client: ClientConnection?, _ count: Int) {
        guard let client else { return }
        lock.withLock {
            if case .body(let since, let bytes) = client.phase {
                client.phase = .body(since: since, bytes: bytes + count)
            }
        }
    }

    /// Takes the connection from its request (to answer on the socket); false if the gateway already did.
    func abandon(_ client: ClientConnection?) -> Bool {
        guard let client else { return true }
        return lock.withLock {
            if case .abandoned = client.phase { return false }
            client.phase = .abandoned
            return true
        }
    }

    /// What the deadline sweep did, for the metrics.
    struct Sweep {
        var headTimeouts = 0
        var slowBodies = 0
    }

    /// Enforces the deadlines of the connections libmicrohttpd serves: an
    /// idle one past the idle timeout is closed; a head past the header
    /// timeout, or a body slower than the minimum rate, gets 408 and is closed.
    func sweep(now: Double) -> Sweep {
        var result = Sweep()
        let rate = Double(settings.minBodyBytesPerSecond)
        let grace = Double(settings.headerTimeoutSeconds)
        lock.withLock {
            for client in active.values {
                switch client.phase {
                case .idle(let since) where now - since > Double(settings.idleTimeoutSeconds):
                    client.phase = .abandoned
                    SocketAnswer.cut(client.fd)
                case .head(let since) where now - since > grace:
                    answerAndCut(client, .requestTimeout("the request head did not arrive in \(Int(grace)) s"))
                    result.headTimeouts += 1
                case .body(let since, let bytes) where rate > 0 && Double(bytes) < rate * (now - since - grace):
                    answerAndCut(
                        client,
                        .requestTimeout("the body arrived slower than \(settings.minBodyBytesPerSecond) bytes a second")
                    )
                    result.slowBodies += 1
                default:
                    break
                }
            }
        }
        return result
    }

    /// Closes the connection idle the longest, to make room for `waiting`
    /// heads (unless that many are being closed already); false if none is idle.
    @discardableResult
    func evictIdle(for waiting: Int) -> Bool {
        lock.withLock {
            var oldest: (client: ClientConnection, since: Double)?
            var closing = 0
            for client in active.values {
                switch client.phase {
                case .idle(let since) where since < oldest?.since ?? .infinity: oldest = (client, since)
                case .abandoned: closing += 1
                default: break
                }
            }
            guard let oldest, closing < waiting else { return false }
            oldest.client.phase = .abandoned
            SocketAnswer.cut(oldest.client.fd)
            return true
        }
    }

    /// The drain deadline: a request still arriving gets 503 and every
    /// connection not being answered is closed.
    func closeForDrain() {
        lock.withLock {
            for client in active.values {
                switch client.phase {
                case .head, .body: answerAndCut(client, .shuttingDown)
                case .idle, .handingOver:
                    client.phase = .abandoned
                    SocketAnswer.cut(client.fd)
                case .busy, .abandoned: break
                }
            }
        }
    }

    /// Under the lock: the answer on the socket (if the request has none
    /// yet; under HTTPS only once its request line came, so the handshake
    /// is over), then the end.
    private func answerAndCut(_ client: ClientConnection, _ error: APIError) {
        client.phase = .abandoned
        if let request = client.request, request.answeredOnSocket(error) {
            let tls = request.connection?.tlsSession
            if tls != nil || settings.tls == nil {
                SocketAnswer.write(error.response, requestID: request.id, on: client.fd, tls: tls)
            }
        }
        SocketAnswer.cut(client.fd)
    }

    private func release(_ peer: Peer) {
        let left = perPeer[peer, default: 1] - 1
        perPeer[peer] = left > 0 ? left : nil
    }
}
