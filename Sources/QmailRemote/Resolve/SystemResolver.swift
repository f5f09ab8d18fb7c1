// DNS through glibc's resolver (res_nquery; answers walked with ns_parserr
// and dn_expand), with a private resolver state per lookup so it is safe from
// many threads. Never uses the search list. Not a cache. Validated lookups
// (DANE) set EDNS0's DO bit and read the answer's AD bit; the others are the
// plain queries they always were.

import QmailSupport

internal import CResolv
#if canImport(Glibc)
import Glibc
#endif

struct SystemResolver: Resolver {
    /// nil: the servers of /etc/resolv.conf; else exactly these.
    let servers: [DNSServer]?

    init(servers: [DNSServer]?) { self.servers = servers }

    func mailExchangers(of name: [UInt8]) -> DNSAnswer<MXRecord> {
        query(name, type: 15, dnssec: false, decodeMX).answer
    }

    func ipv4Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
        query(name, type: 1, dnssec: false, decodeA).answer
    }

    func ipv6Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
        query(name, type: 28, dnssec: false, decodeAAAA).answer
    }

    func validatedMailExchangers(of name: [UInt8]) -> ValidatedAnswer<MXRecord> {
        query(name, type: 15, dnssec: true, decodeMX)
    }

    func validatedIPv4Addresses(of name: [UInt8]) -> ValidatedAnswer<IPAddress> {
        query(name, type: 1, dnssec: true, decodeA)
    }

    func validatedIPv6Addresses(of name: [UInt8]) -> ValidatedAnswer<IPAddress> {
        query(name, type: 28, dnssec: true, decodeAAAA)
    }

    func tlsaRecords(of name: [UInt8]) -> ValidatedAnswer<TLSARecord> {
        query(name, type: 52, dnssec: true) { _, rr in
            guard rr.rdlength >= 3, let rdata = rr.rdata else { return nil }
            return TLSARecord(
                usage: rdata[0], selector: rdata[1], matchingType: rdata[2],
                data: Array(UnsafeBufferPointer(start: rdata + 3, count: Int(rr.rdlength) - 3)))
        }
    }

    func textRecords(of name: [UInt8]) -> DNSAnswer<[UInt8]> {
        query(name, type: 16, dnssec: false) { _, rr in
            guard let rdata = rr.rdata else { return nil }
            // One or more <length><bytes> strings, joined (RFC 8461 section 3.1).
            var text: [UInt8] = []
            var offset = 0
            let end = Int(rr.rdlength)
            while offset < end {
                let length = Int(rdata[offset])
                guard offset + 1 + length <= end else { return nil }
                text += UnsafeBufferPointer(start: rdata + offset + 1, count: length)
                offset += 1 + length
            }
            return text
        }.answer
    }

    /// Asks for `type` records of `name`; keeps the answers of that type
    /// (a CNAME chain before them is passed over). With `dnssec`, asks with
    /// the DO bit and says whether the answer came with the AD bit.
    private func query<Record>(
        _ name: [UInt8], type: UInt16, dnssec: Bool,
        _ decode: (inout ns_msg, ns_rr) -> Record?
    ) -> ValidatedAnswer<Record> {
        guard let state = cresolv_open() else { return ValidatedAnswer(.temporaryFailure, secure: false) }
        defer { cresolv_close(state) }
        if let servers {
            var addresses = servers.map { $0.address.networkOrder }
            var ports = servers.map { $0.port.bigEndian }
            cresolv_use_servers(state, &addresses, &ports, Int32(servers.count))
        } else {
            cresolv_no_search(state)
        }
        if dnssec { cresolv_dnssec(state) }

        // The header zeroed: after a failed query it may or may not be there.
        var answer = [UInt8](unsafeUninitializedCapacity: 65536) { buffer, count in
            for index in 0..<12 { buffer[index] = 0 }
            count = 65536
        }
        let length = (name + [0]).withUnsafeBufferPointer { cName in
            cName.withMemoryRebound(to: CChar.self) { text in
                res_nquery(state, text.baseAddress, Int32(ns_c_in.rawValue), Int32(type), &answer, Int32(answer.count))
            }
        }
        if length < 0 {
            let denial = dnssec && cresolv_authenticated(answer, 12) == 1
            switch cresolv_h_errno(state) {
            case HOST_NOT_FOUND: return ValidatedAnswer(.noSuchDomain, secure: denial)
            case NO_DATA: return ValidatedAnswer(.noRecords, secure: denial)
            default: return ValidatedAnswer(.temporaryFailure, secure: false)
            }
        }
        let size = min(length, Int32(answer.count))
        let secure = dnssec && cresolv_authenticated(answer, size) == 1

        var handle = ns_msg()
        let count = cresolv_answer_count(answer, size, &handle)
        if count < 0 { return ValidatedAnswer(.temporaryFailure, secure: false) }
        var records: [Record] = []
        for index in 0..<count {
            var rr = ns_rr()
            guard cresolv_answer(&handle, index, &rr) == 0 else {
                return ValidatedAnswer(.temporaryFailure, secure: false)
            }
            guard rr.type == type, let record = decode(&handle, rr) else { continue }
            records.append(record)
        }
        return ValidatedAnswer(records.isEmpty ? .noRecords : .records(records), secure: secure)
    }
}

private func decodeMX(_ handle: inout ns_msg, _ rr: ns_rr) -> MXRecord? {
    guard rr.rdlength >= 3, let rdata = rr.rdata else { return nil }
    let preference = Int(rdata[0]) << 8 | Int(rdata[1])
    guard let exchange = expand(&handle, at: rdata + 2) else { return nil }
    return MXRecord(preference: preference, exchange: exchange)
}

private func decodeA(_ handle: inout ns_msg, _ rr: ns_rr) -> IPAddress? {
    guard rr.rdlength == 4, let rdata = rr.rdata else { return nil }
    return IPAddress(rdata[0], rdata[1], rdata[2], rdata[3])
}

private func decodeAAAA(_ handle: inout ns_msg, _ rr: ns_rr) -> IPAddress? {
    guard rr.rdlength == 16, let rdata = rr.rdata else { return nil }
    return IPAddress(v6: Array(UnsafeBufferPointer(start: rdata, count: 16)))
}

/// The name at `at`, without a trailing dot; nil when it does not parse.
private func expand(_ handle: inout ns_msg, at: UnsafePointer<UInt8>) -> [UInt8]? {
    var name = [CChar](repeating: 0, count: Int(NS_MAXDNAME) + 1)
    guard cresolv_expand(&handle, at, &name, Int32(name.count)) >= 0 else { return nil }
    let length = name.firstIndex(of: 0) ?? name.count
    return name[..<length].map { UInt8(bitPattern: $0) }
}
