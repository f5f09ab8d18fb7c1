// A TCP connection to an SMTP server over a POSIX socket, with a deadline on
// the connect (non-blocking connect and poll(2)) and on every read and write
// (SO_RCVTIMEO / SO_SNDTIMEO on the then blocking socket: one system call per
// read), like qmail's timeoutconn/timeoutread/timeoutwrite. No SMTP here.

#if canImport(Glibc)
import Glibc
#endif

/// Why a connection could not be opened. Only `timedOut` feeds the tcpto table.
public enum ConnectFailure: Error, Sendable, Equatable {
    case timedOut
    case failed(Int32)
}

public final class SocketConnection: Connection {
    private var fd: Int32

    /// The descriptor, for a TLS layer on top.
    var descriptor: Int32 { fd }

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    /// Connects to `address:port` from `source` (when given: an address of
    /// the same family), waiting at most `connectTimeout` seconds; reads and
    /// writes then wait at most `ioTimeout` seconds each.
    public static func connect(
        to address: IPAddress, port: UInt16, from source: IPAddress? = nil,
        connectTimeout: Int, ioTimeout: Int
    ) -> Result<SocketConnection, ConnectFailure> {
        let domain = address.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(
            domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return .failure(.failed(errno)) }
        var one: Int32 = 1
        // The final ".\r\n" must not wait for the peer's delayed ACK.
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        if let source {
            let bound = SocketAddress.with(source, port: 0) { Glibc.bind(fd, $0, $1) }
            if bound != 0 {
                let error = errno
                _ = Glibc.close(fd)
                return .failure(.failed(error))
            }
        }
        let started = SocketAddress.with(address, port: port) { Glibc.connect(fd, $0, $1) }
        if started != 0 && errno != EINPROGRESS {
            let error = errno
            _ = Glibc.close(fd)
            return .failure(.failed(error))
        }
        if started != 0 {
            switch wait(fd: fd, for: Int16(POLLOUT), milliseconds: milliseconds(connectTimeout)) {
            case .ready:
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
                if error != 0 {
                    _ = Glibc.close(fd)
                    return .failure(error == ETIMEDOUT ? .timedOut : .failed(error))
                }
            case .timedOut:
                _ = Glibc.close(fd)
                return .failure(.timedOut)
            case .failed(let error):
                _ = Glibc.close(fd)
                return .failure(.failed(error))
            }
        }
        // Blocking from here on, each read and write bounded by the kernel.
        // A zero timeval would mean "wait forever": the least is 1 ms.
        var deadline = ioTimeout <= 0 ? timeval(tv_sec: 0, tv_usec: 1000) : timeval(tv_sec: ioTimeout, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        guard fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0,
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, size) == 0,
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &deadline, size) == 0
        else {
            let error = errno
            _ = Glibc.close(fd)
            return .failure(.failed(error))
        }
        return .success(SocketConnection(fd: fd))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        while true {
            let count = Glibc.recv(fd, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            let error = errno
            if error == EINTR { continue }
            throw error == EAGAIN || error == EWOULDBLOCK ? .timedOut : .failed(error)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if count > 0 { offset += count; continue }
            let error = errno
            if count < 0 && error == EINTR { continue }
            throw count < 0 && error != EAGAIN && error != EWOULDBLOCK ? .failed(error) : .timedOut
        }
    }

    public func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    private enum Readiness { case ready, timedOut, failed(Int32) }

    /// Waits for `events`, restarting after signals with the time that is left.
    private static func wait(fd: Int32, for events: Int16, milliseconds: Int32) -> Readiness {
        let deadline = Deadline(milliseconds: milliseconds)
        while true {
            var pollfd = Glibc.pollfd(fd: fd, events: events, revents: 0)
            let result = poll(&pollfd, 1, deadline.remainingMilliseconds)
            if result > 0 { return .ready }
            if result == 0 { return .timedOut }
            if errno != EINTR { return .failed(errno) }
        }
    }

    static func milliseconds(_ seconds: Int) -> Int32 {
        seconds >= Int(Int32.max / 1000) ? Int32.max : Int32(max(0, seconds) * 1000)
    }
}
