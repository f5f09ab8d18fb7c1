// Fetching an MTA-STS policy (RFC 8461 section 3.3) over the core's own
// transport: TCP to port 443 of an address our resolver found for
// mta-sts.<domain>, TLS with that name as SNI and its certificate checked
// against the system's CAs (or control/mtastscafile), then one GET of
// /.well-known/mta-sts.txt read by PolicyResponseReader, all within one time
// limit. Not libcurl: qmail-remote is a static executable, which must never
// dlopen. Unit tests of the delivery give their own PolicyFetcher.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

/// Why no policy came; `reason` is for a log or a test.
struct PolicyFetchFailure: Error, Sendable, Equatable {
    let reason: String
}

protocol PolicyFetcher: Sendable {
    /// The body of the policy of `domain`, served at one of `addresses`, all
    /// within `timeout` seconds (each connect within `connectTimeout`).
    func fetch(
        _ domain: [UInt8], addresses: [IPAddress], caFile: String?, timeout: Int, connectTimeout: Int
    ) -> Result<[UInt8], PolicyFetchFailure>
}

struct HTTPSPolicyFetcher: PolicyFetcher {
    /// 443; another only in tests.
    let port: UInt16

    init(port: UInt16 = 443) { self.port = port }

    static let path = "/.well-known/mta-sts.txt"

    func fetch(
        _ domain: [UInt8], addresses: [IPAddress], caFile: String?, timeout: Int, connectTimeout: Int
    ) -> Result<[UInt8], PolicyFetchFailure> {
        let host = Array("mta-sts.".utf8) + domain
        guard HostName.isDomainName(host), host.last != UInt8(ascii: ".") else { return fail("not a host name") }
        let deadline = MonotonicClock.now + .seconds(max(1, timeout))
        let context: TLSContext
        switch TLSContextCache.context(caFile: caFile, clientCertificate: nil, ciphers: nil) {
        case .success(let made): context = made
        case .failure(let failure): return fail("the CA store cannot be used: \(failure.reason)")
        }
        // Why each address tried gave nothing, in order.
        var failures: [String] = []
        for address in addresses {
            guard MonotonicClock.now < deadline else {
                failures.append("the time limit came before \(address) was tried")
                break
            }
            // The connect ends by the fetch's deadline too, whatever is left of it.
            switch SocketConnection.connect(
                to: address, port: port, connectTimeout: max(1, connectTimeout), ioTimeout: max(1, timeout),
                deadline: deadline)
            {
            case .success(let socket):
                return exchange(over: socket, host: host, context: context, deadline: deadline)
            case .failure(.timedOut):
                failures.append("connecting to \(address) timed out")
            case .failure(.failed(let error)):
                failures.append("connecting to \(address) failed: \(Self.describe(error))")
            }
        }
        return fail(failures.isEmpty ? "no address" : failures.joined(separator: "; "))
    }

    /// TLS, the request and the answer on a connected socket, which is
    /// closed after. The socket stops blocking: every wait is for input, up
    /// to the deadline, however slowly the server trickles its bytes.
    private func exchange(
        over socket: SocketConnection, host: [UInt8], context: TLSContext, deadline: Duration
    ) -> Result<[UInt8], PolicyFetchFailure> {
        defer { socket.close() }
        guard socket.stopBlocking() else { return fail("the socket cannot be made non-blocking") }
        let tls: TLSConnection
        switch TLSConnection.handshake(
            over: socket, context: context, serverName: host, awaitInput: { socket.waitForInput(until: deadline) })
        {
        case .success(let connection): tls = connection
        case .failure(let failure): return fail("the TLS handshake failed: \(failure.reason)")
        }
        defer { tls.close() }
        guard tls.summary.verified else {
            let name = String(decoding: host, as: UTF8.self)
            return fail("the certificate for \(name) was not verified: \(tls.summary.verifyProblem ?? "")")
        }
        let request =
            Array("GET \(Self.path) HTTP/1.1\r\nHost: ".utf8) + host
            + Array("\r\nUser-Agent: qmail-remote (MTA-STS)\r\nConnection: close\r\n\r\n".utf8)
        do throws(TransportError) {
            // A fresh socket's buffer takes these few bytes at once.
            try tls.write(request)
        } catch {
            return fail(Self.describe(error, while: "sending the request"))
        }
        var reader = PolicyResponseReader()
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let read: Result<Int, TransportError> = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(TransportError) in try tls.read(into: raw) }
            }
            let progress: PolicyResponseReader.Progress
            switch read {
            case .success(0): progress = reader.readEnd()
            case .success(let count): progress = reader.read(buffer[0..<count])
            case .failure(.timedOut):
                // Nothing to read yet (the socket does not block).
                guard socket.waitForInput(until: deadline) else { return fail("timed out reading the answer") }
                continue
            case .failure(let error): return fail(Self.describe(error, while: "reading the answer"))
            }
            switch progress {
            case .needMore: continue
            case .complete(let body): return .success(body)
            case .failed(let failure): return .failure(failure)
            }
        }
    }

    private func fail(_ reason: String) -> Result<[UInt8], PolicyFetchFailure> {
        .failure(PolicyFetchFailure(reason: reason))
    }

    private static func describe(_ error: TransportError, while doing: String) -> String {
        switch error {
        case .timedOut: return "timed out \(doing)"
        case .failed(let code): return "the connection failed \(doing): \(describe(code))"
        }
    }

    private static func describe(_ error: Int32) -> String {
        error == 0 ? "closed without close_notify or a TLS error" : String(cString: strerror(error))
    }
}
