// The gateway's listening socket, bound exclusively: SO_REUSEADDR (a restart
// need not wait for old connections) but never SO_REUSEPORT, so a second
// gateway on the same address fails to start instead of taking a share of
// the connections. Errors are sentences for the start-up log.

import QmailRemote
import QmailSupport
#if canImport(Glibc)
import Glibc
#endif

final class ListeningSocket: Sendable {
    let fd: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(_ listen: ListenAddress, backlog: Int32, receiveBuffer: Int?) throws(Failure) {
        let fd = socket(listen.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "cannot make a socket: \(Self.reason(errno))") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if var size = receiveBuffer.map(Int32.init) {
            // Inherited by accepted sockets: a request head must fit in what
            // the kernel holds before anyone reads it.
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = SocketAddress.with(listen.address, port: listen.port) { bind(fd, $0, $1) }
        if bound != 0 {
            let error = errno
            close(fd)
            if error == EADDRINUSE {
                throw Failure(description: "\(listen) is in use (another gateway or program listens there)")
            }
            throw Failure(description: "cannot listen on \(listen): \(Self.reason(error))")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = errno
            close(fd)
            throw Failure(description: "cannot listen on \(listen): \(Self.reason(error))")
        }
        self.fd = fd
    }

    /// The port actually bound (for port 0).
    var port: UInt16 {
        var address = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin6_port)
    }

    static func reason(_ error: Int32) -> String { String(cString: strerror(error)) }
}

/// Who is on the other end of a connection: the address (IPv4-mapped IPv6
/// counted as IPv4), for per-address limits and logs.
struct Peer: Hashable, Sendable {
    let address: IPAddress?

    init(_ storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            address = IPAddress(networkOrder: sin.sin_addr.s_addr)
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                address = IPAddress(bytes[12], bytes[13], bytes[14], bytes[15])
            } else {
                address = IPAddress(v6: bytes)
            }
        default:
            address = nil
        }
    }

    var description: String { address?.description ?? "?" }
}
