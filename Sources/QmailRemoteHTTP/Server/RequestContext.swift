// One request from its request line to its completion notice: what the
// library told us of it, its plan and body, and its answer. The answer is
// given once (the first to answer wins: the delivery's results, a refusal,
// the drain deadline, or an answer written straight on the socket), which is
// how a request is never answered twice and never left without one.

import QmailSupport
import Synchronization

final class RequestContext: @unchecked Sendable {
    // @unchecked: the fields marked "library thread" are used only on
    // libmicrohttpd's thread (or by the worker the request is handed to while
    // the connection is suspended, which the library never touches then);
    // `answer` is read and written under `lock`.
    let id = RequestContext.makeID()
    let started = Clock.seconds()
    /// The request-target exactly as the request line carried it.
    let target: [UInt8]
    let client: ClientConnection?
    let connection: MHDConnection?

    // Library thread.
    var headSeen = false
    /// The request line had a NUL byte in its target (the library's copy is cut there).
    var targetHadNUL = false
    var method = ""
    var version = ""
    var plan: RequestPlan?
    var body: SpooledBytes?

    enum Answer {
        case none
        /// Built, waiting for the library's next call to queue it.
        case ready(HTTPResponse)
        /// Queued with the library.
        case queued(Int)
        /// Written on the socket by us, with the refusal's code.
        case written(Int, code: String)
    }

    private let lock = Lock()
    private var answer = Answer.none
    private var summaryValue = RequestSummary()
    private let suspendedFlag = Atomic<Bool>(false)

    /// What the log line says of the request (set by whichever thread works on it).
    var summary: RequestSummary {
        get { lock.withLock { summaryValue } }
        set { lock.withLock { summaryValue = newValue } }
    }

    /// Suspended while a worker and the delivery pool have it.
    var suspended: Bool {
        get { suspendedFlag.load(ordering: .sequentiallyConsistent) }
        set { suspendedFlag.store(newValue, ordering: .sequentiallyConsistent) }
    }

    init(target: [UInt8], client: ClientConnection?, connection: MHDConnection?) {
        self.target = target
        self.client = client
        self.connection = connection
    }

    /// The path as logged: the target up to its query, as sent.
    var path: String {
        String(decoding: target.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)
    }

    /// Gives the answer; false when the request was answered already.
    func respond(_ response: HTTPResponse) -> Bool {
        lock.withLock {
            guard case .none = answer else { return false }
            answer = .ready(response)
            return true
        }
    }

    /// The answer to queue now, if one is ready.
    func takeReady() -> HTTPResponse? {
        lock.withLock {
            guard case .ready(let response) = answer else { return nil }
            answer = .queued(response.status)
            return response
        }
    }

    /// Records an answer written straight on the socket; false when one was given already.
    func answeredOnSocket(_ error: APIError) -> Bool {
        lock.withLock {
            switch answer {
            case .none, .ready:
                answer = .written(error.status, code: error.code)
                return true
            case .queued, .written:
                return false
            }
        }
    }

    /// Records an answer queued at once (the head's refusals).
    func queued(status: Int) { lock.withLock { answer = .queued(status) } }

    /// The status the gateway answered with, and the refusal's code when it wrote it on the socket.
    var given: (status: Int, socketCode: String?)? {
        lock.withLock {
            switch answer {
            case .queued(let status): return (status, nil)
            case .written(let status, let code): return (status, code)
            case .none, .ready: return nil
            }
        }
    }

    /// Random at start, then counting: unique in this process, unguessable
    /// across restarts, and no system call per request.
    private static let nextID = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    static func makeID() -> String {
        let value = nextID.add(1, ordering: .relaxed).newValue
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
