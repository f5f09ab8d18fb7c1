// SMTP connections kept between messages for the gateway (the command
// delivers one message and never makes one): after a 250 to the final dot a
// connection waits here, keyed by SessionKey, for the next delivery to the
// same destination. Bounded by an idle time, a number of messages per
// connection and a number of connections per destination; idle ones get
// QUIT when their time is up (one thread, started with the first connection
// kept and asleep while none waits) and on closeAll. Also counts connections
// opened and reused, for metrics.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

public final class ConnectionCache: @unchecked Sendable {
    // @unchecked: every field below is read and written under `lock` only. A
    // cached SMTPSession is not Sendable; it is used by one thread at a time:
    // the delivery that put it or took it, or the reaper or closeAll after
    // they removed it under the lock.

    /// How long a connection may wait idle; zero turns reuse off.
    public let idleTimeout: Duration
    /// Messages one connection carries at most (Postfix's smtp_connection_reuse_count_limit).
    public let messagesPerConnection: Int
    /// Idle connections kept per destination at most.
    public let connectionsPerDestination: Int

    public struct Counts: Sendable, Equatable {
        /// New connections opened (whether or not they were reused later).
        public var opened = 0
        /// Deliveries that ran on a connection from the cache.
        public var reused = 0
    }

    private struct Idle {
        let session: SMTPSession
        /// When it was put, on MonotonicClock.
        let since: Duration
    }

    private let lock = Lock()
    private let changed = Condition()
    private var idle: [SessionKey: [Idle]] = [:]
    private var counts = Counts()
    private var reaperRunning = false
    private var shut = false

    /// `idleSeconds` 0 (or `messagesPerConnection` below 2) turns reuse off;
    /// connections are still counted.
    public convenience init(
        idleSeconds: Int = 5, messagesPerConnection: Int = 100, connectionsPerDestination: Int = 20
    ) {
        self.init(
            idleTimeout: .seconds(idleSeconds), messagesPerConnection: messagesPerConnection,
            connectionsPerDestination: connectionsPerDestination)
    }

    init(idleTimeout: Duration, messagesPerConnection: Int, connectionsPerDestination: Int) {
        self.idleTimeout = max(.zero, idleTimeout)
        self.messagesPerConnection = max(1, messagesPerConnection)
        self.connectionsPerDestination = max(1, connectionsPerDestination)
    }

    public var reuseEnabled: Bool { idleTimeout > .zero && messagesPerConnection > 1 }

    public var currentCounts: Counts { lock.withLock { counts } }

    /// Connections waiting now, for tests and metrics.
    public var idleConnections: Int { lock.withLock { idle.values.reduce(0) { $0 + $1.count } } }

    func noteOpened() { lock.withLock { counts.opened += 1 } }
    func noteReused() { lock.withLock { counts.reused += 1 } }

    /// Whether a session that has carried `messages` may be kept after the next one.
    func mayKeep(afterCarrying messages: Int) -> Bool { reuseEnabled && messages + 1 < messagesPerConnection }

    /// The most recently used idle connection for `key`, if one is still
    /// idle as it should be; those that are not (the server closed them, or
    /// said something unasked such as a 421) are closed on the way.
    func take(_ key: SessionKey) -> SMTPSession? {
        while true {
            let found: Idle? = lock.withLock {
                guard let last = idle[key]?.popLast() else { return nil }
                if idle[key]!.isEmpty { idle[key] = nil }
                return last
            }
            guard let found else { return nil }
            if found.session.isIdle && MonotonicClock.now - found.since < idleTimeout { return found.session }
            found.session.close(quit: false)
        }
    }

    /// Keeps `session` for the next delivery, or sends it QUIT when it may
    /// not be kept (reuse off, limits reached, shut, or not idle).
    func put(_ session: SMTPSession, key: SessionKey) {
        let idleNow = session.isIdle
        let kept: Bool = lock.withLock {
            guard idleNow, reuseEnabled, !shut, session.messagesCarried < messagesPerConnection,
                idle[key, default: []].count < connectionsPerDestination
            else { return false }
            // The reaper sleeps without a deadline only while nothing waits; a
            // later connection expires after those it already waits for.
            if idle.isEmpty { changed.signal() }
            idle[key, default: []].append(Idle(session: session, since: MonotonicClock.now))
            return true
        }
        if kept { startReaperIfNeeded() } else { session.close(quit: true) }
    }

    /// QUIT on every idle connection, and from now on on every connection
    /// put back. For the gateway's shutdown.
    public func closeAll() {
        let all: [Idle] = lock.withLock {
            shut = true
            let all = idle.values.flatMap { $0 }
            idle = [:]
            changed.broadcast()
            while reaperRunning { lock.wait(on: changed) }
            return all
        }
        for entry in all { entry.session.close(quit: true) }
    }

    private func startReaperIfNeeded() {
        let start: Bool = lock.withLock {
            if reaperRunning || shut { return false }
            reaperRunning = true
            return true
        }
        guard start else { return }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<ConnectionCache>.fromOpaque(raw!).takeRetainedValue().reap()
                return nil
            }, context)
        if created == 0 {
            pthread_detach(thread)
        } else {
            // No thread: idle connections then expire when next looked at.
            Unmanaged<ConnectionCache>.fromOpaque(context).release()
            lock.withLock {
                reaperRunning = false
                changed.broadcast()
            }
        }
    }

    /// The reaper: sends QUIT to connections whose idle time is up; ends on
    /// closeAll. It lives as long as reuse does: under load the cache empties
    /// and fills with every delivery, and a thread per filling cost more than
    /// the delivery.
    private func reap() {
        while true {
            let expired: [Idle]? = lock.withLock {
                while !shut {
                    if idle.isEmpty {
                        lock.wait(on: changed)
                        continue
                    }
                    let now = MonotonicClock.now
                    var expired: [Idle] = []
                    var next: Duration?
                    for (key, entries) in idle {
                        let (old, young) = (
                            entries.filter { $0.since + idleTimeout <= now },
                            entries.filter { $0.since + idleTimeout > now }
                        )
                        expired += old
                        idle[key] = young.isEmpty ? nil : young
                        if let first = young.first?.since, next.map({ first < $0 }) ?? true { next = first }
                    }
                    if !expired.isEmpty { return expired }
                    if let next { lock.wait(on: changed, timeout: next + idleTimeout - now) }
                }
                reaperRunning = false
                changed.broadcast()
                return nil
            }
            guard let expired else { return }
            for entry in expired { entry.session.close(quit: true) }
        }
    }
}
