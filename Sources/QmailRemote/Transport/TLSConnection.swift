// TLS over an open SocketConnection with OpenSSL: the handshake, reads and
// writes all bounded by the socket's deadlines (SO_RCVTIMEO/SO_SNDTIMEO on a
// blocking socket make OpenSSL give up with WANT_READ/WANT_WRITE). The
// certificate is checked after the handshake, so one handshake serves every
// policy; TLSSummary says what was agreed and whether it was verified.

internal import CTLS
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
}

public enum TLSFailure: Error, Sendable, Equatable {
    case timedOut
    case failed(String)

    public var reason: String {
        switch self {
        case .timedOut: return "timed out"
        case .failed(let reason): return reason
        }
    }
}

/// The client side's fixed settings: whom to trust, what to present.
public final class TLSContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is safe to share between threads once set up,
    // and it is never changed after init.
    let pointer: OpaquePointer

    /// nil with the reason when a file cannot be used.
    public init(caFile: String?, clientCertificate: String?, ciphers: String?) throws(TLSFailure) {
        guard let context = ctls_context(caFile, clientCertificate, ciphers) else {
            throw .failed(Self.lastError())
        }
        pointer = context
    }

    deinit { SSL_CTX_free(pointer) }

    static func lastError() -> String {
        var text = [CChar](repeating: 0, count: 256)
        ctls_last_error(&text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

public final class TLSConnection: Connection {
    private let socket: SocketConnection
    private let ssl: OpaquePointer
    public let summary: TLSSummary

    /// Shakes hands over `socket`, naming `serverName` (SNI, not for an IP)
    /// and checking the certificate against it (a host name or an address).
    public static func handshake(over socket: SocketConnection, context: TLSContext,
                                 serverName: [UInt8]) -> Result<TLSConnection, TLSFailure> {
        let text = String(decoding: serverName, as: UTF8.self)
        let isAddress = IPAddress(literal: serverName, ipv6: true) != nil
        let address = IPAddress(literal: serverName, ipv6: true)?.description
        guard let ssl = ctls_connection(context.pointer, socket.descriptor, isAddress ? nil : text,
                                        isAddress ? nil : text, address) else {
            return .failure(.failed(TLSContext.lastError()))
        }
        let result = SSL_connect(ssl)
        if result != 1 {
            let error = SSL_get_error(ssl, result)
            let reason = error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? TLSFailure.timedOut
                : .failed(error == SSL_ERROR_SYSCALL ? "connection closed during the handshake" : TLSContext.lastError())
            SSL_free(ssl)
            return .failure(reason)
        }
        var problem: UnsafePointer<CChar>?
        let verified = ctls_verified(ssl, &problem) == 1
        let summary = TLSSummary(version: String(cString: SSL_get_version(ssl)), cipher: String(cString: ctls_cipher(ssl)),
                                 verified: verified, verifyProblem: verified ? nil : problem.map { String(cString: $0) })
        return .success(TLSConnection(socket: socket, ssl: ssl, summary: summary))
    }

    private init(socket: SocketConnection, ssl: OpaquePointer, summary: TLSSummary) {
        self.socket = socket
        self.ssl = ssl
        self.summary = summary
    }

    deinit { SSL_free(ssl) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        let count = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_ZERO_RETURN: return 0
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: throw .timedOut
        case SSL_ERROR_SYSCALL where errno == 0: return 0   // closed without close_notify
        default: throw .failed(errno)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        if bytes.isEmpty { return }
        let count = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
        if count == bytes.count { return }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: throw .timedOut
        default: throw .failed(errno)
        }
    }

    public func close() { socket.close() }
}
