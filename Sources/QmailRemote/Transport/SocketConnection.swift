// A TCP connection to an SMTP server over a POSIX socket, with a deadline on
// the connect (non-blocking connect and poll(2)) and on every read and write
// (SO_RCVTIMEO / SO_SNDTIMEO on the then blocking socket: one system call per
// read), like qmail's timeoutconn/timeoutread/timeoutwrite. No SMTP here.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

final class SocketConnection: Connection {
    private var fd: Int32

    /// The descriptor, for a TLS layer on top.
    var descriptor: Int32 { fd }

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    /// Connects to `address:port` from `source` (when given: an address of
    /// the same family), waiting at most `connectTimeout` seconds and, when
    /// given, not past `deadline` (on MonotonicClock); reads and writes then
    /// wait at most `ioTimeout` seconds each.
    static func connect(
        to address: IPAddress, port: UInt16, from source: IPAddress? = nil,
        connectTimeout: Int, ioTimeout: Int, deadline: Duration? = nil
    ) -> Result<SocketConnection, TransportError> {
        let domain = address.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(
            domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return .failure(.failed(errno)) }
        func fail(_ error: TransportError) -> Result<SocketConnection, TransportError> {
            _ = Glibc.close(fd)
            return .failure(error)
        }
        var one: Int32 = 1
        // The final ".\r\n" must not wait for the peer's delayed ACK.
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        if let source, SocketAddress.with(source, port: 0, { Glibc.bind(fd, $0, $1) }) != 0 {
            return fail(.failed(errno))
        }
        let started = SocketAddress.with(address, port: port) { Glibc.connect(fd, $0, $1) }
        if started != 0 && errno != EINPROGRESS { return fail(.failed(errno)) }
        if started != 0 {
            var waiting = milliseconds(connectTimeout)
            if let deadline { waiting = min(waiting, milliseconds(until: deadline)) }
            switch wait(fd: fd, for: Int16(POLLOUT), milliseconds: waiting) {
            case .ready:
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
                if error != 0 { return fail(error == ETIMEDOUT ? .timedOut : .failed(error)) }
            case .timedOut: return fail(.timedOut)
            case .failed(let error): return fail(.failed(error))
            }
        }
        // Blocking from here on, each read and write bounded by the kernel.
        guard fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0, setTimeouts(fd, seconds: ioTimeout) else {
            return fail(.failed(errno))
        }
        return .success(SocketConnection(fd: fd))
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        while true {
            let count = Glibc.recv(fd, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            let error = errno
            if error == EINTR { continue }
            throw error == EAGAIN || error == EWOULDBLOCK ? .timedOut : .failed(error)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        do {
            try Descriptor.writeAll(bytes, to: fd, socket: true)
        } catch {
            // SO_SNDTIMEO shows as EAGAIN, or as a write that took nothing.
            let passed = error.errno == 0 || error.errno == EAGAIN || error.errno == EWOULDBLOCK
            throw passed ? .timedOut : .failed(error.errno)
        }
    }

    var hasInputOrClosed: Bool {
        var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pollfd, 1, 0) != 0
    }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    /// From now on reads and writes never wait: one that would throws
    /// `timedOut` at once, and `waitForInput(until:)` does the waiting, so
    /// that a whole exchange ends by one deadline however the peer trickles
    /// its bytes (the MTA-STS policy fetch). False if the socket refused.
    func stopBlocking() -> Bool {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0
    }

    /// Waits until input arrives or the peer closes, at most until
    /// `deadline` (on MonotonicClock). False when the deadline came first.
    func waitForInput(until deadline: Duration) -> Bool {
        let milliseconds = Self.milliseconds(until: deadline)
        guard milliseconds > 0 else { return false }
        if case .ready = Self.wait(fd: fd, for: Int16(POLLIN), milliseconds: milliseconds) { return true }
        return false
    }

    /// SO_RCVTIMEO and SO_SNDTIMEO. A zero timeval would mean "wait
    /// forever": the least is 1 ms.
    private static func setTimeouts(_ fd: Int32, seconds: Int) -> Bool {
        var deadline = seconds <= 0 ? timeval(tv_sec: 0, tv_usec: 1000) : timeval(tv_sec: seconds, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, size) == 0
            && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &deadline, size) == 0
    }

    private enum Readiness { case ready, timedOut, failed(Int32) }

    /// Waits for `events`, restarting after signals with the time that is left.
    private static func wait(fd: Int32, for events: Int16, milliseconds: Int32) -> Readiness {
        let deadline = MonotonicClock.now + .milliseconds(milliseconds)
        while true {
            var pollfd = Glibc.pollfd(fd: fd, events: events, revents: 0)
            let left = (deadline - MonotonicClock.now).components
            let leftMilliseconds = max(0, left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000)
            let result = poll(&pollfd, 1, Int32(clamping: leftMilliseconds))
            if result > 0 { return .ready }
            if result == 0 { return .timedOut }
            if errno != EINTR { return .failed(errno) }
        }
    }

    static func milliseconds(_ seconds: Int) -> Int32 {
        seconds >= Int(Int32.max / 1000) ? Int32.max : Int32(max(0, seconds) * 1000)
    }

    /// Milliseconds from now until `deadline`, rounded up (a wait that long
    /// ends past it, never just before), none if it has passed.
    private static func milliseconds(until deadline: Duration) -> Int32 {
        let left = (deadline - MonotonicClock.now).components
        let rounded = left.seconds * 1000 + (left.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(0, rounded))
    }
}
