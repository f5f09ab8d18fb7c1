// TLS over an open SocketConnection with OpenSSL (through CTLS, which loads
// it on first use): the handshake, reads and writes all bounded by the
// socket's deadlines (SO_RCVTIMEO/SO_SNDTIMEO on a blocking socket). The
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
        guard let context = ctls_context_new(caFile, clientCertificate, ciphers) else {
            throw .failed(Self.lastError())
        }
        pointer = context
    }

    deinit { ctls_context_free(pointer) }

    static func lastError() -> String {
        var text = [CChar](repeating: 0, count: 256)
        ctls_last_error(&text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

public final class TLSConnection: Connection {
    private let socket: SocketConnection
    private let tls: OpaquePointer
    public let summary: TLSSummary

    /// Shakes hands over `socket`, naming `serverName` (SNI, not for an IP)
    /// and checking the certificate against it (a host name or an address).
    public static func handshake(
        over socket: SocketConnection, context: TLSContext,
        serverName: [UInt8]
    ) -> Result<TLSConnection, TLSFailure> {
        let text = String(decoding: serverName, as: UTF8.self)
        let isAddress = IPAddress(literal: serverName, ipv6: true) != nil
        let address = IPAddress(literal: serverName, ipv6: true)?.description
        guard
            let tls = ctls_connection_new(
                context.pointer, socket.descriptor, isAddress ? nil : text,
                isAddress ? nil : text, address)
        else {
            return .failure(.failed(TLSContext.lastError()))
        }
        let result = ctls_handshake(tls)
        if result != 1 {
            let failure: TLSFailure =
                result == CTLS_TIMED_OUT
                ? .timedOut
                : .failed(result == CTLS_CLOSED ? "connection closed during the handshake" : TLSContext.lastError())
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

    deinit { ctls_connection_free(tls) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        let count = ctls_read(tls, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        switch count {
        case CTLS_CLOSED: return 0
        case CTLS_TIMED_OUT: throw .timedOut
        default: throw .failed(errno)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let count = ctls_write(tls, bytes.baseAddress! + offset, Int32(min(bytes.count - offset, Int(Int32.max))))
            if count > 0 { offset += Int(count); continue }
            throw count == CTLS_TIMED_OUT ? .timedOut : .failed(errno)
        }
    }

    public func close() { socket.close() }
}
