// HTTPSPolicyFetcher against real sockets on loopback that are not policy
// servers: no address, a name that is not one, an address that refuses or
// never answers the connect (the next is tried while time is left), a
// server that is not TLS, one that says nothing and one that trickles bytes
// (the whole fetch still ends by its time limit). The end-to-end tests
// fetch real policies over real TLS.

import QmailSupport
import Synchronization
import Testing

@testable import QmailRemote

#if canImport(Glibc)
import Glibc
#endif

/// A TCP server on 127.0.0.1 (a port of the system's choosing) that accepts
/// one connection and runs `behave` on it in a thread of its own.
final class LoopbackServer: @unchecked Sendable {
    // @unchecked: `thread` is written once in init, then only joined.
    let port: UInt16
    private let listener: Int32
    private var thread = pthread_t()

    init(_ behave: @escaping @Sendable (Int32) -> Void) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var bound = SocketAddress.with(IPAddress(127, 0, 0, 1), port: 0) { bind(listener, $0, $1) }
        if bound == 0 { bound = listen(listener, 4) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        try #require(bound == 0 && named == 0)
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        final class Work: @unchecked Sendable {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        let work = Work {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            behave(connection)
            close(connection)
        }
        pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(work).toOpaque())
    }

    /// Waits for the connection's thread (the client must have gone); if
    /// no client came, the waiting accept is woken to end it.
    func finish() {
        shutdown(listener, Int32(SHUT_RDWR))
        pthread_join(thread, nil)
        close(listener)
    }

    /// Reads until the client closes or 10 seconds pass.
    static func drain(_ fd: Int32) {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while recv(fd, &buffer, buffer.count, 0) > 0 {}
    }
}

/// A port on 127.0.0.1 whose connects never complete: its listener's queue
/// (listen backlog 0) is full with one connection nobody accepts, so the
/// kernel drops every further SYN, as a host that is down would.
final class UnansweredPort {
    let port: UInt16
    private let listener: Int32
    private let queued: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let queued = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listener = listener
        self.queued = queued
        var done = SocketAddress.with(IPAddress(127, 0, 0, 1), port: 0) { bind(listener, $0, $1) }
        if done == 0 { done = listen(listener, 0) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        if done == 0 {
            done = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
            }
        }
        let port = UInt16(bigEndian: address.sin_port)
        self.port = port
        if done == 0 { done = SocketAddress.with(IPAddress(127, 0, 0, 1), port: port) { connect(queued, $0, $1) } }
        try #require(done == 0)
    }

    deinit {
        close(queued)
        close(listener)
    }
}

@Suite struct HTTPSPolicyFetcherTests {
    let domain = Array("x.test".utf8)
    let loopback = IPAddress(127, 0, 0, 1)

    func fetch(
        port: UInt16 = 1, _ addresses: [IPAddress], domain: [UInt8]? = nil, timeout: Int = 5,
        connectTimeout: Int? = nil
    ) -> (result: Result<[UInt8], PolicyFetchFailure>, seconds: Double) {
        let started = MonotonicClock.now
        let result = HTTPSPolicyFetcher(port: port).fetch(
            domain ?? self.domain, addresses: addresses, caFile: nil, timeout: timeout,
            connectTimeout: connectTimeout ?? timeout)
        let taken = (MonotonicClock.now - started).components
        return (result, Double(taken.seconds) + Double(taken.attoseconds) / 1e18)
    }

    func failure(_ reason: String) -> Result<[UInt8], PolicyFetchFailure> {
        .failure(PolicyFetchFailure(reason: reason))
    }

    @Test func nothingToAskOrNoHostName() {
        #expect(fetch([]).result == failure("no address"))
        #expect(fetch([loopback], domain: Array("x test".utf8)).result == failure("not a host name"))
        #expect(fetch([loopback], domain: Array("x.test.".utf8)).result == failure("not a host name"))
    }

    @Test func aRefusingAddressLeadsToTheNext() throws {
        let server = try LoopbackServer { fd in
            // Not TLS: an HTTP answer to the ClientHello.
            var hello = [UInt8](repeating: 0, count: 4096)
            _ = recv(fd, &hello, hello.count, 0)
            _ = send(fd, "HTTP/1.1 400 Bad Request\r\n\r\n", 28, Int32(MSG_NOSIGNAL))
        }
        // Nothing listens on 127.0.0.2 at that port: refused, then 127.0.0.1.
        let (result, _) = fetch(port: server.port, [IPAddress(127, 0, 0, 2), loopback])
        server.finish()
        guard case .failure(let failure) = result else {
            Issue.record("fetched \(result)")
            return
        }
        #expect(failure.reason.hasPrefix("the TLS handshake failed: "), "\(failure.reason)")
    }

    @Test func onlyARefusingAddress() throws {
        let server = try LoopbackServer { _ in }
        let (result, _) = fetch(port: server.port, [IPAddress(127, 0, 0, 2)])
        server.finish()
        #expect(result == failure("connecting to 127.0.0.2 failed: Connection refused"))
    }

    @Test func aConnectThatHangsEndsAtTheFetchsTimeLimitNotAtTimeoutconnect() throws {
        let unanswered = try UnansweredPort()
        // timeoutconnect 5 s, the fetch 1 s: 127.0.0.2 is never reached.
        let (result, seconds) = fetch(
            port: unanswered.port, [loopback, IPAddress(127, 0, 0, 2)], timeout: 1, connectTimeout: 5)
        #expect(
            result
                == failure(
                    "connecting to 127.0.0.1 timed out; the time limit came before 127.0.0.2 was tried"))
        #expect(seconds >= 0.9 && seconds < 2)
    }

    @Test func aConnectThatTimesOutLeadsToTheNextAddressWhileTimeIsLeft() throws {
        let unanswered = try UnansweredPort()
        // timeoutconnect 1 s of the fetch's 3 s: then 127.0.0.2, which refuses.
        let (result, seconds) = fetch(
            port: unanswered.port, [loopback, IPAddress(127, 0, 0, 2)], timeout: 3, connectTimeout: 1)
        #expect(
            result
                == failure("connecting to 127.0.0.1 timed out; connecting to 127.0.0.2 failed: Connection refused"))
        #expect(seconds >= 0.9 && seconds < 2.5)
    }

    @Test func aSilentServerIsGivenUpAtTheTimeLimit() throws {
        let server = try LoopbackServer { LoopbackServer.drain($0) }
        let (result, seconds) = fetch(port: server.port, [loopback], timeout: 1)
        server.finish()
        #expect(result == failure("the TLS handshake failed: timed out"))
        #expect(seconds >= 0.9 && seconds < 2)
    }

    @Test func aTricklingServerIsGivenUpAtTheTimeLimitToo() throws {
        let server = try LoopbackServer { fd in
            // A handshake record announcing 16 KiB, one byte every 50 ms for
            // up to 5 s: each byte comes well within any per-read time-out.
            let record: [UInt8] = [0x16, 0x03, 0x03, 0x40, 0x00] + [UInt8](repeating: 0x02, count: 100)
            for byte in record {
                var one = byte
                if send(fd, &one, 1, Int32(MSG_NOSIGNAL)) != 1 { return }
                usleep(50_000)
            }
        }
        let (result, seconds) = fetch(port: server.port, [loopback], timeout: 1)
        server.finish()
        #expect(result == failure("the TLS handshake failed: timed out"))
        #expect(seconds >= 0.9 && seconds < 2)
    }
}
