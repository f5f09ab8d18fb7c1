// DNS through glibc's resolver (res_nquery; answers walked with ns_parserr
// and dn_expand), with a private resolver state per lookup so it is safe from
// many threads. Never uses the search list. Not a cache.

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
        query(name, type: 15 /* MX */) { handle, rr in
            guard rr.rdlength >= 3, let rdata = rr.rdata else { return nil }
            let preference = Int(rdata[0]) << 8 | Int(rdata[1])
            guard let exchange = expand(&handle, at: rdata + 2) else { return nil }
            return MXRecord(preference: preference, exchange: exchange)
        }
    }

    func ipv4Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
        query(name, type: 1 /* A */) { _, rr in
            guard rr.rdlength == 4, let rdata = rr.rdata else { return nil }
            return IPAddress(rdata[0], rdata[1], rdata[2], rdata[3])
        }
    }

    func ipv6Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
        query(name, type: 28 /* AAAA */) { _, rr in
            guard rr.rdlength == 16, let rdata = rr.rdata else { return nil }
            return IPAddress(v6: Array(UnsafeBufferPointer(start: rdata, count: 16)))
        }
    }

    /// Asks for `type` records of `name`; keeps the answers of that type
    /// (a CNAME chain before them is passed over).
    private func query<Record>(
        _ name: [UInt8], type: UInt16,
        _ decode: (inout ns_msg, ns_rr) -> Record?
    ) -> DNSAnswer<Record> {
        guard let state = cresolv_open() else { return .temporaryFailure }
        defer { cresolv_close(state) }
        if let servers {
            var addresses = servers.map { $0.address.networkOrder }
            var ports = servers.map { $0.port.bigEndian }
            cresolv_use_servers(state, &addresses, &ports, Int32(servers.count))
        } else {
            cresolv_no_search(state)
        }

        var answer = [UInt8](unsafeUninitializedCapacity: 65536) { $1 = 65536 }
        let length = (name + [0]).withUnsafeBufferPointer { cName in
            cName.withMemoryRebound(to: CChar.self) { text in
                res_nquery(state, text.baseAddress, Int32(ns_c_in.rawValue), Int32(type), &answer, Int32(answer.count))
            }
        }
        if length < 0 {
            switch cresolv_h_errno(state) {
            case HOST_NOT_FOUND: return .noSuchDomain
            case NO_DATA: return .noRecords
            default: return .temporaryFailure
            }
        }

        var handle = ns_msg()
        let count = cresolv_answer_count(answer, min(length, Int32(answer.count)), &handle)
        if count < 0 { return .temporaryFailure }
        var records: [Record] = []
        for index in 0..<count {
            var rr = ns_rr()
            guard cresolv_answer(&handle, index, &rr) == 0 else { return .temporaryFailure }
            guard rr.type == type, let record = decode(&handle, rr) else { continue }
            records.append(record)
        }
        return records.isEmpty ? .noRecords : .records(records)
    }
}

/// The name at `at`, without a trailing dot; nil when it does not parse.
private func expand(_ handle: inout ns_msg, at: UnsafePointer<UInt8>) -> [UInt8]? {
    var name = [CChar](repeating: 0, count: Int(NS_MAXDNAME) + 1)
    guard cresolv_expand(&handle, at, &name, Int32(name.count)) >= 0 else { return nil }
    let length = name.firstIndex(of: 0) ?? name.count
    return name[..<length].map { UInt8(bitPattern: $0) }
}
