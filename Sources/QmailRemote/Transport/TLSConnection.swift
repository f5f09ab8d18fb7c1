// TLS over an open SocketConnection with OpenSSL (through CTLS): the
// handshake, reads and writes all bounded by the socket's deadlines
// (SO_RCVTIMEO/SO_SNDTIMEO on a blocking socket), and a clean end with
// close_notify. The certificate is checked after the handshake, so one
// handshake serves every policy; TLSSummary says what was agreed.

internal import CTLS
import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

/// What a delivery's TLS was: for reports and the gateway's answer.
public struct TLSSummary: Sendable, Equatable {
    public let version: String
    public let cipher: String
    /// The chain checked against the trusted CAs and the expected name matched.
    public let verified: Bool
    /// Why it was not verified (OpenSSL's words), when it was not.
    public let verifyProblem: String?

    init(version: String, cipher: String, verified: Bool, verifyProblem: String?) {
        self.version = version
        self.cipher = cipher
        self.verified = verified
        self.verifyProblem = verifyProblem
    }
}

/// Why TLS could not be started; `reason` goes into the report.
struct TLSFailure: Error, Sendable, Equatable {
    let reason: String

    static let timedOut = TLSFailure(reason: "timed out")
    static func failed(_ reason: String) -> TLSFailure { TLSFailure(reason: reason) }
}

final class TLSConnection: Connection {
    private let socket: SocketConnection
    private var tls: OpaquePointer?
    let summary: TLSSummary

    /// Shakes hands over `socket`, naming `serverName` (SNI, not for an IP)
    /// and checking the certificate against it (a host name or an address).
    /// On failure the socket is left as it was, for the caller to close.
    static func handshake(
        over socket: SocketConnection, context: TLSContext, serverName: [UInt8]
    ) -> Result<TLSConnection, TLSFailure> {
        let text = String(decoding: serverName, as: UTF8.self)
        let address = IPAddress(literal: serverName, ipv6: true)?.description
        let name = address == nil ? text : nil
        guard let tls = ctls_connection_new(context.pointer, socket.descriptor, name, name, address) else {
            return .failure(.failed(TLSLibrary.lastError()))
        }
        let result = ctls_handshake(tls)
        if result != 1 {
            let failure: TLSFailure =
                result == CTLS_TIMED_OUT
                ? .timedOut
                : .failed(result == CTLS_CLOSED ? "connection closed during the handshake" : TLSLibrary.lastError())
            ctls_connection_free(tls)
            return .failure(failure)
        }
        var problem: UnsafePointer<CChar>?
        let verified = ctls_verified(tls, &problem) == 1
        let summary = TLSSummary(
            version: String(cString: ctls_version(tls)), cipher: String(cString: ctls_cipher(tls)),
            verified: verified, verifyProblem: verified ? nil : problem.map { String(cString: $0) })
        return .success(TLSConnection(socket: socket, tls: tls, summary: summary))
    }

    private init(socket: SocketConnection, tls: OpaquePointer, summary: TLSSummary) {
        self.socket = socket
        self.tls = tls
        self.summary = summary
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard let tls else { return 0 }
        let count = ctls_read(tls, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        switch count {
        case CTLS_CLOSED: return 0
        case CTLS_TIMED_OUT: throw .timedOut
        default: throw .failed(errno)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        guard let tls else { throw .failed(EBADF) }
        var offset = 0
        while offset < bytes.count {
            let count = ctls_write(tls, bytes.baseAddress! + offset, Int32(min(bytes.count - offset, Int(Int32.max))))
            if count > 0 {
                offset += Int(count)
                continue
            }
            throw count == CTLS_TIMED_OUT ? .timedOut : .failed(errno)
        }
    }

    var hasInputOrClosed: Bool {
        guard let tls else { return true }
        return ctls_pending(tls) > 0 || socket.hasInputOrClosed
    }

    /// close_notify, then the socket: the server sees a clean end of TLS.
    func close() {
        guard let tls else { return }
        ctls_shutdown(tls)
        ctls_connection_free(tls)
        self.tls = nil
        socket.close()
    }
}
