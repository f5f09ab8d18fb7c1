// TLS over an open SocketConnection with OpenSSL (through CTLS): the
// handshake, reads and writes all bounded by the socket's deadlines
// (SO_RCVTIMEO/SO_SNDTIMEO on a blocking socket), and a clean end with
// close_notify. The certificate is checked after the handshake, so one
// handshake serves every policy (a CA chain and name, or DANE's TLSA records
// through OpenSSL's own DANE); TLSSummary says what was agreed.

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
    /// Which policy decided this connection's TLS.
    public var policy: TLSPolicySource = .opportunistic
    /// DANE: the TLSA record the certificate chain matched.
    public let matchedTLSA: TLSARecord?

    init(version: String, cipher: String, verified: Bool, verifyProblem: String?, matchedTLSA: TLSARecord? = nil) {
        self.version = version
        self.cipher = cipher
        self.verified = verified
        self.verifyProblem = verifyProblem
        self.matchedTLSA = matchedTLSA
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
    /// and checking the certificate against it (a host name or an address),
    /// or with `tlsa` records (a DANE context) against those, `serverName`
    /// being the TLSA base domain. On a socket that does not block,
    /// `awaitInput` waits whenever the handshake needs more from the peer
    /// (false: give up, timed out). On failure the socket is left as it
    /// was, for the caller to close.
    static func handshake(
        over socket: SocketConnection, context: TLSContext, serverName: [UInt8], tlsa: [TLSARecord] = [],
        awaitInput: (() -> Bool)? = nil
    ) -> Result<TLSConnection, TLSFailure> {
        let text = String(decoding: serverName, as: UTF8.self)
        let address = IPAddress(literal: serverName, ipv6: true)?.description
        let name = address == nil ? text : nil
        // The records' bytes must outlive the call only: OpenSSL copies them.
        let made: OpaquePointer? = withTLSARecords(tlsa) { records in
            ctls_connection_new(
                context.pointer, socket.descriptor, name, name, address, records.baseAddress, Int32(records.count))
        }
        guard let tls = made else {
            return .failure(.failed(tlsa.isEmpty ? TLSLibrary.lastError() : "no TLSA record could be used"))
        }
        var result = ctls_handshake(tls)
        while result == CTLS_TIMED_OUT, let awaitInput, awaitInput() { result = ctls_handshake(tls) }
        if result != 1 {
            let failure: TLSFailure =
                result == CTLS_TIMED_OUT
                ? .timedOut
                : .failed(result == CTLS_CLOSED ? "connection closed during the handshake" : TLSLibrary.lastError())
            ctls_connection_free(tls)
            return .failure(failure)
        }
        var problem: UnsafePointer<CChar>?
        var verified = ctls_verified(tls, &problem) == 1
        var matched: TLSARecord?
        if !tlsa.isEmpty {
            var record = ctls_tlsa()
            if verified && ctls_dane_matched(tls, &record) >= 0, let data = record.data {
                matched = TLSARecord(
                    usage: record.usage, selector: record.selector, matchingType: record.matching,
                    data: Array(UnsafeBufferPointer(start: data, count: record.length)))
            } else {
                verified = false
            }
        }
        let summary = TLSSummary(
            version: String(cString: ctls_version(tls)), cipher: String(cString: ctls_cipher(tls)),
            verified: verified, verifyProblem: verified ? nil : problem.map { String(cString: $0) } ?? "no match",
            matchedTLSA: matched)
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

/// `records` as CTLS's structs, valid inside `body`.
private func withTLSARecords<T>(_ records: [TLSARecord], _ body: (UnsafeBufferPointer<ctls_tlsa>) -> T) -> T {
    let bytes = records.flatMap(\.data)
    return bytes.withUnsafeBufferPointer { all in
        var offset = 0
        let converted = records.map { record -> ctls_tlsa in
            defer { offset += record.data.count }
            return ctls_tlsa(
                usage: record.usage, selector: record.selector, matching: record.matchingType,
                data: all.baseAddress.map { $0 + offset }, length: record.data.count)
        }
        return converted.withUnsafeBufferPointer(body)
    }
}
