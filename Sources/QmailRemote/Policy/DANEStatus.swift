// What DANE says of one mail host (RFC 7672 section 2.2): the TLSA RRset at
// _<port>._tcp.<host>, counted only when the resolver vouched for it (AD).
// Usable records make TLS and a matching certificate mandatory; records that
// are all unusable make TLS mandatory without authentication; none (or an
// insecure answer) leave the host to other policies; a failed lookup makes the
// host unusable, for it may hide records an attacker removed.

enum DANEStatus: Sendable, Equatable {
    case usable([TLSARecord])
    case unusable
    case none
    case lookupFailed

    /// Looks up the TLSA records of `host` for `port`.
    static func of(_ host: [UInt8], port: UInt16, resolver: any Resolver) -> DANEStatus {
        let found = resolver.tlsaRecords(of: Array("_\(port)._tcp.".utf8) + host)
        switch found.answer {
        case .records(let records):
            guard found.secure else { return .none }
            let usable = records.filter(\.isUsable)
            return usable.isEmpty ? .unusable : .usable(usable)
        case .noRecords, .noSuchDomain: return .none
        case .temporaryFailure: return .lookupFailed
        }
    }
}
