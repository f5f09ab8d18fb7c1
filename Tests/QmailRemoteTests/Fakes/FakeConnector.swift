// A Connector for RemoteDelivery's unit tests: each address answers as told
// (a scripted connection, a time-out, a refusal; several in turn for several
// connects), TLS succeeds or fails as told, and every call is recorded.

import QmailSupport

@testable import QmailRemote

final class FakeConnector: Connector {
    enum Answer {
        case connection(any Connection)
        case timedOut
        case refused
    }

    private var answers: [IPAddress: [Answer]] = [:]
    private var lastAnswers: [IPAddress: Answer] = [:]
    /// What secure() gives; nil: a TLS failure.
    var tls: TLSSummary? = FakeConnector.verified
    private(set) var connects: [IPAddress] = []
    private(set) var secured: [TLSPlan] = []

    static let verified = TLSSummary(
        version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", verified: true, verifyProblem: nil)
    static let unverified = TLSSummary(
        version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", verified: false, verifyProblem: "self-signed certificate")

    /// A later connect to `address` gets `answer`, in the order given; when
    /// all were used, the last one again.
    func answer(_ address: IPAddress, _ answer: Answer) { answers[address, default: []].append(answer) }

    func connect(
        to address: IPAddress, port: UInt16, from source: IPAddress?, connectTimeout: Int, ioTimeout: Int
    ) -> Result<any Connection, TransportError> {
        connects.append(address)
        let answer: Answer
        if let next = answers[address]?.first {
            answers[address]!.removeFirst()
            lastAnswers[address] = next
            answer = next
        } else if let last = lastAnswers[address] {
            answer = last
        } else {
            return .failure(.failed(111))
        }
        switch answer {
        case .connection(let connection): return .success(connection)
        case .timedOut: return .failure(.timedOut)
        case .refused: return .failure(.failed(111))
        }
    }

    func secure(_ connection: any Connection, plan: TLSPlan) -> Result<SecuredConnection, TLSFailure> {
        secured.append(plan)
        guard let tls else { return .failure(.failed("handshake failure")) }
        return .success(SecuredConnection(connection: connection, summary: tls))
    }
}

/// DNS answers from tables; a name not in a table does not exist. Names in
/// `secure` get the AD bit on validated lookups; every question is recorded.
struct TableResolver: Resolver {
    var mx: [String: DNSAnswer<MXRecord>] = [:]
    var a: [String: DNSAnswer<IPAddress>] = [:]
    var aaaa: [String: DNSAnswer<IPAddress>] = [:]
    var tlsa: [String: DNSAnswer<TLSARecord>] = [:]
    var txt: [String: DNSAnswer<[UInt8]>] = [:]
    var secure: Set<String> = []
    let questions = QuestionLog()

    final class QuestionLog: @unchecked Sendable {
        // @unchecked: `asked` is guarded by `lock`.
        private let lock = Lock()
        private var asked: [String] = []
        func add(_ question: String) { lock.withLock { asked.append(question) } }
        var all: [String] { lock.withLock { asked } }
    }

    func validatedMailExchangers(of name: [UInt8]) -> ValidatedAnswer<MXRecord> {
        validated(name, "MX+DO", mx)
    }
    func validatedIPv4Addresses(of name: [UInt8]) -> ValidatedAnswer<IPAddress> {
        validated(name, "A+DO", a)
    }
    func validatedIPv6Addresses(of name: [UInt8]) -> ValidatedAnswer<IPAddress> {
        validated(name, "AAAA+DO", aaaa)
    }
    func tlsaRecords(of name: [UInt8]) -> ValidatedAnswer<TLSARecord> {
        validated(name, "TLSA+DO", tlsa)
    }
    func textRecords(of name: [UInt8]) -> DNSAnswer<[UInt8]> {
        let text = String(decoding: name, as: UTF8.self)
        questions.add("TXT " + text)
        return txt[text] ?? .noSuchDomain
    }

    private func validated<R>(_ name: [UInt8], _ type: String, _ table: [String: DNSAnswer<R>]) -> ValidatedAnswer<R> {
        let text = String(decoding: name, as: UTF8.self)
        questions.add(type + " " + text)
        return ValidatedAnswer(table[text] ?? .noSuchDomain, secure: secure.contains(text))
    }

    func mailExchangers(of name: [UInt8]) -> DNSAnswer<MXRecord> {
        questions.add("MX " + String(decoding: name, as: UTF8.self))
        return mx[String(decoding: name, as: UTF8.self)] ?? .noSuchDomain
    }
    func ipv4Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
        questions.add("A " + String(decoding: name, as: UTF8.self))
        return a[String(decoding: name, as: UTF8.self)] ?? .noSuchDomain
    }
    func ipv6Addresses(of name: [UInt8]) -> DNSAnswer<IPAddress> {
        questions.add("AAAA " + String(decoding: name, as: UTF8.self))
        return aaaa[String(decoding: name, as: UTF8.self)] ?? .noSuchDomain
    }
}
