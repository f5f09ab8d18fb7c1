// One HTTPS connection's TLS session as the gateway uses it beside
// libmicrohttpd: the client certificate's verified subject, and an answer
// written as a TLS record when the library cannot queue one (the same
// moments a plain connection gets an answer written on its socket). Also
// --probe's TLS client.

internal import CGnuTLS

struct TLSSession: @unchecked Sendable {
    // @unchecked: a GnuTLS session used by libmicrohttpd's thread; the
    // gateway writes on it only while the library reads (GnuTLS allows one
    // sender and one receiver at once), never while it writes.
    let pointer: UnsafeMutableRawPointer

    enum PeerCertificate: Equatable {
        case none
        case verified(subject: String)
        case refused(reason: String)
    }

    /// The client certificate, checked against --tls-client-ca for client authentication.
    var peerCertificate: PeerCertificate {
        var text = [CChar](repeating: 0, count: 1024)
        let result = cgnutls_peer_subject(pointer, &text, text.count)
        let string = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch result {
        case 1: return .verified(subject: string)
        case 0: return .none
        default: return .refused(reason: string)
        }
    }

    /// Writes `bytes` as one record if the socket takes it now.
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { cgnutls_send(pointer, $0.baseAddress, $0.count) == $0.count }
    }
}

public enum TLSProbe {
    /// TLS over the connected `fd` (no certificate check), `request` out,
    /// up to `limit` bytes of the reply back; nil on any failure.
    public static func exchange(fd: Int32, request: [UInt8], limit: Int) -> [UInt8]? {
        var reply = [UInt8](repeating: 0, count: limit)
        let count = request.withUnsafeBytes { out in
            reply.withUnsafeMutableBytes { cgnutls_probe(fd, out.baseAddress, out.count, $0.baseAddress, $0.count) }
        }
        return count < 0 ? nil : Array(reply[0..<count])
    }
}
