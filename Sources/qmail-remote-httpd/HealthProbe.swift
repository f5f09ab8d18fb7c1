// --probe: asks the gateway on its own listen address for GET /healthz and
// exits 0 on a 200, 1 otherwise. For container health checks, so the runtime
// image needs no HTTP client. A wildcard address is probed on loopback;
// an HTTPS gateway over TLS (its certificate is not checked: the probe
// asks its own gateway, not a stranger).

import QmailRemoteHTTP
import QmailSupport
#if canImport(Glibc)
import Glibc
#endif

enum HealthProbe {
    static func healthy(_ listen: ListenAddress, https: Bool, timeoutSeconds: Int32 = 5) -> Bool {
        let fd = socket(listen.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = SocketAddress.with(listen.reachableAddress, port: listen.port) { connect(fd, $0, $1) }
        guard connected == 0 else { return false }
        let request = Array("GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        let reply: [UInt8]
        if https {
            guard let answer = TLSProbe.exchange(fd: fd, request: request, limit: 64) else { return false }
            reply = answer
        } else {
            guard
                request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count
            else {
                return false
            }
            var buffer = [UInt8](repeating: 0, count: 64)
            var count = 0
            while count < 12 {
                let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + count, $0.count - count, 0) }
                if got <= 0 { break }
                count += got
            }
            reply = Array(buffer[0..<count])
        }
        let status = String(decoding: reply, as: UTF8.self)
        return status.hasPrefix("HTTP/1.0 200") || status.hasPrefix("HTTP/1.1 200")
    }
}
