// The connection cache on its own: most recent first, limits per
// destination and per connection, connections that are not idle, the idle
// time-out (QUIT from the reaper thread), and closeAll.

import QmailSupport
import Testing

@testable import QmailRemote

@Suite struct ConnectionCacheTests {
    let key = SessionKey(
        address: IPAddress(192, 0, 2, 1), port: 25, source: nil, helohost: Array("me.test".utf8), esmtp: true,
        tls: TLSPlan(level: .may, serverName: Array("mx.test".utf8)), credentials: nil)

    /// A session that has carried one message, idle on a scripted connection.
    func session(_ connection: ScriptedConnection = ScriptedConnection([])) -> SMTPSession {
        let session = SMTPSession(connection: connection, ip: IPAddress(192, 0, 2, 1))
        connection.add("220 hi\r\n")
        connection.add("250 x\r\n")
        connection.add("250 ok\r\n")
        connection.add("250 ok\r\n")
        connection.add("354 go\r\n")
        connection.add("250 yes\r\n")
        var c = conversation(esmtp: false, mayKeep: true)
        _ = session.converse(&c, message: BytesMessage("x\n"), secure: { _ in .failure(.failed("")) })
        return session
    }

    func cache(idle: Duration = .seconds(60), messages: Int = 100, perDestination: Int = 2) -> ConnectionCache {
        ConnectionCache(idleTimeout: idle, messagesPerConnection: messages, connectionsPerDestination: perDestination)
    }

    @Test func mostRecentFirstAndOnlyForItsKey() {
        let connections = cache()
        defer { connections.closeAll() }
        let (a, b) = (session(), session())
        connections.put(a, key: key)
        connections.put(b, key: key)
        var other = key
        other = SessionKey(
            address: key.address, port: 26, source: nil, helohost: key.helohost, esmtp: true, tls: key.tls,
            credentials: nil)
        #expect(connections.take(other) == nil)
        #expect(connections.take(key) === b)
        #expect(connections.take(key) === a)
        #expect(connections.take(key) == nil)
    }

    @Test func beyondTheLimitPerDestinationConnectionsAreQuit() {
        let connections = cache(perDestination: 1)
        defer { connections.closeAll() }
        let second = ScriptedConnection([])
        connections.put(session(), key: key)
        connections.put(session(second), key: key)
        #expect(second.closed && second.writtenText.hasSuffix("QUIT\r\n"))
        #expect(connections.idleConnections == 1)
    }

    @Test func aConnectionThatIsNotIdleIsQuitNotKept() {
        let connections = cache()
        defer { connections.closeAll() }
        let connection = ScriptedConnection([])
        let busy = session(connection)
        connection.add("250 unasked\r\n", unasked: true)
        connections.put(busy, key: key)
        #expect(connection.closed && connections.idleConnections == 0)
    }

    @Test func takeDropsConnectionsClosedWhileIdle() {
        let connections = cache()
        defer { connections.closeAll() }
        let (first, second) = (ScriptedConnection([]), ScriptedConnection([]))
        let kept = session(first)
        connections.put(kept, key: key)
        connections.put(session(second), key: key)
        second.peerClosed = true
        #expect(connections.take(key) === kept)
        #expect(second.closed && !second.writtenText.hasSuffix("QUIT\r\n"))
    }

    @Test func reuseOffKeepsNothing() {
        for connections in [cache(idle: .zero), cache(messages: 1)] {
            let connection = ScriptedConnection([])
            #expect(!connections.reuseEnabled && !connections.mayKeep(afterCarrying: 0))
            connections.put(session(connection), key: key)
            #expect(connection.closed && connections.idleConnections == 0)
        }
    }

    @Test func theMessageLimit() {
        let connections = cache(messages: 3)
        #expect(connections.mayKeep(afterCarrying: 0) && connections.mayKeep(afterCarrying: 1))
        #expect(!connections.mayKeep(afterCarrying: 2))
    }

    @Test func idleConnectionsGetQUITWhenTheirTimeIsUp() {
        let connections = cache(idle: .milliseconds(100))
        let connection = ScriptedConnection([])
        connections.put(session(connection), key: key)
        #expect(connections.idleConnections == 1)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while !connection.closed && clock.now < deadline { usleepMilliseconds(10) }
        #expect(connection.closed && connection.writtenText.hasSuffix(".\r\nQUIT\r\n"))
        #expect(connections.idleConnections == 0)
        // The reaper sleeps with nothing left; a new connection wakes it.
        let later = ScriptedConnection([])
        connections.put(session(later), key: key)
        while !later.closed && clock.now < deadline + .seconds(5) { usleepMilliseconds(10) }
        #expect(later.closed)
    }

    @Test func closeAllQuitsEveryIdleConnectionAndLaterOnes() {
        let connections = cache()
        let (a, b, c) = (ScriptedConnection([]), ScriptedConnection([]), ScriptedConnection([]))
        connections.put(session(a), key: key)
        connections.put(session(b), key: key)
        connections.closeAll()
        #expect(a.closed && b.closed && a.writtenText.hasSuffix("QUIT\r\n") && b.writtenText.hasSuffix("QUIT\r\n"))
        connections.put(session(c), key: key)
        #expect(c.closed && c.writtenText.hasSuffix("QUIT\r\n"))
        #expect(connections.take(key) == nil)
    }
}

func usleepMilliseconds(_ milliseconds: UInt32) {
    #if canImport(Glibc)
    _ = Glibc.usleep(milliseconds * 1000)
    #endif
}

#if canImport(Glibc)
import Glibc
#endif
