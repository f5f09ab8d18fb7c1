// A TCP connection to an SMTP server over a non-blocking POSIX socket, with
// a poll(2) deadline on the connect and on every read and write, like qmail's
// timeoutconn/timeoutread/timeoutwrite. It knows nothing of SMTP.

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
    private let timeoutMilliseconds: Int32

    private init(fd: Int32, timeoutSeconds: Int) {
        self.fd = fd
        self.timeoutMilliseconds = Self.milliseconds(timeoutSeconds)
    }

    deinit { close() }

    /// Connects to `address:port`, waiting at most `connectTimeout` seconds;
    /// reads and writes then wait at most `ioTimeout` seconds each.
    public static func connect(to address: IPAddress, port: UInt16,
                               connectTimeout: Int, ioTimeout: Int) -> Result<SocketConnection, ConnectFailure> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return .failure(.failed(errno)) }
        var one: Int32 = 1
        // The final ".\r\n" must not wait for the peer's delayed ACK.
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = address.networkOrder
        let started = withUnsafePointer(to: &sin) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
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
        return .success(SocketConnection(fd: fd, timeoutSeconds: ioTimeout))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        // Wait first: a reply is rarely in yet when it is asked for, and a
        // read that fails with EAGAIN is a system call for nothing.
        try waitOrThrow(Int16(POLLIN))
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let error = errno
            if error == EINTR { continue }
            if error != EAGAIN && error != EWOULDBLOCK { throw .failed(error) }
            try waitOrThrow(Int16(POLLIN))
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if count > 0 { offset += count; continue }
            let error = errno
            if count < 0 && error == EINTR { continue }
            if count < 0 && error != EAGAIN && error != EWOULDBLOCK { throw .failed(error) }
            try waitOrThrow(Int16(POLLOUT))
        }
    }

    public func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    private func waitOrThrow(_ events: Int16) throws(TransportError) {
        switch Self.wait(fd: fd, for: events, milliseconds: timeoutMilliseconds) {
        case .ready: return
        case .timedOut: throw .timedOut
        case .failed(let error): throw .failed(error)
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
