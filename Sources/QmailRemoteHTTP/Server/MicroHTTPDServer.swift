// The libmicrohttpd adapter: starts the daemon (a thread per connection, so
// a request may block for its SMTP deliveries), turns libmicrohttpd's calls
// into RequestHead / body bytes / answer for GatewayEndpoint, logs one line
// per request, and drains on shutdown. All C stays in this file.

internal import CMicroHTTPD
import Logging
import QmailRemote
import QmailSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class MicroHTTPDServer: Sendable {
    public let endpoint: GatewayEndpoint
    let logger: Logger
    private let daemon: DaemonHandle
    private let inFlight = Atomic<Int>(0)
    /// Connections the kernel may hold before libmicrohttpd accepts them.
    static let listenBacklog = 4096
    /// Each connection's thread runs one SMTP conversation: small frames, all
    /// buffers on the heap. Smaller than the 8 MB default, for thousands of threads.
    static let threadStackSize = 512 * 1024

    public enum StartError: Error, CustomStringConvertible {
        case cannotListen(String)
        public var description: String {
            switch self {
            case .cannotListen(let address): return "cannot listen on \(address)"
            }
        }
    }

    public init(endpoint: GatewayEndpoint, logger: Logger) throws(StartError) {
        self.endpoint = endpoint
        self.logger = logger
        self.daemon = DaemonHandle()
        let settings = endpoint.settings
        // poll(2), not select(2): descriptors past 1024 must work too.
        var flags =
            MHD_USE_THREAD_PER_CONNECTION.rawValue | MHD_USE_INTERNAL_POLLING_THREAD.rawValue
            | MHD_USE_ITC.rawValue | MHD_USE_POLL.rawValue
        let context = Unmanaged.passUnretained(self).toOpaque()
        if settings.listen.isIPv6 { flags |= MHD_USE_IPv6.rawValue }
        let started = SocketAddress.with(settings.listen.address, port: settings.listen.port) { address, _ in
            cmhd_start(
                flags, accessHandler, requestCompleted, libraryMessage, context, address,
                UInt32(settings.maxConnections), UInt32(settings.idleTimeoutSeconds),
                UInt32(Self.listenBacklog), Self.threadStackSize)
        }
        guard let started else { throw .cannotListen(settings.listen.description) }
        daemon.pointer = started
    }

    /// Stops taking connections, lets requests in flight finish (at most
    /// `timeoutSeconds`), then stops. Returns how many were cut off.
    public func drain(timeoutSeconds: Int) -> Int {
        endpoint.startDraining()
        guard let pointer = daemon.pointer else { return 0 }
        let listener = MHD_quiesce_daemon(pointer)
        // New connections are refused at once instead of queueing in the kernel.
        if listener >= 0 { _ = shutdown(listener, Int32(SHUT_RDWR)) }
        let deadline = Clock.seconds() + Double(timeoutSeconds)
        while inFlight.load(ordering: .sequentiallyConsistent) > 0 && Clock.seconds() < deadline {
            usleep(20_000)
        }
        let left = inFlight.load(ordering: .sequentiallyConsistent)
        MHD_stop_daemon(pointer)
        daemon.pointer = nil
        return left
    }

    // MARK: - Calls from libmicrohttpd's threads

    fileprivate func begin(_ connection: OpaquePointer, url: String, method: String) -> RequestContext {
        inFlight.add(1, ordering: .sequentiallyConsistent)
        let head = RequestHead(
            method: method, path: url, header: HeaderLookup(connection).value,
            query: Self.queryArguments(connection))
        let (plan, summary) = endpoint.plan(head)
        return RequestContext(head: head, plan: plan, summary: summary)
    }

    fileprivate func finish(_ context: RequestContext) -> HTTPResponse {
        let (response, summary) = endpoint.answer(context.plan)
        context.summary = summary
        return response
    }

    fileprivate func completed(_ context: RequestContext, answered: Bool) {
        inFlight.subtract(1, ordering: .sequentiallyConsistent)
        var metadata: Logger.Metadata = [
            "request_id": "\(context.id)", "method": "\(context.head.method)", "path": "\(context.head.path)",
            "status": answered ? "\(context.status)" : "aborted",
            "duration_ms": "\(Int((Clock.seconds() - context.started) * 1000))",
        ]
        let summary = context.summary
        if let sender = summary.sender { metadata["sender"] = "\(sender)" }
        if let count = summary.recipientCount { metadata["recipients"] = "\(count)" }
        if !summary.hosts.isEmpty { metadata["hosts"] = .array(summary.hosts.map { "\($0)" }) }
        if let outcome = summary.outcome { metadata["outcome"] = "\(outcome)" }
        if let error = summary.error { metadata["error"] = "\(error)" }
        logger.info("request", metadata: metadata)
    }

    fileprivate func queue(
        _ response: HTTPResponse, on connection: OpaquePointer, for context: RequestContext
    ) -> MHD_Result {
        context.status = response.status
        endpoint.service.metrics.requestAnswered(status: response.status)
        var body = response.body
        let created = body.withUnsafeMutableBytes {
            MHD_create_response_from_buffer($0.count, $0.baseAddress, .RESPMEM_MUST_COPY)
        }
        guard let mhdResponse = created else { return .NO }
        defer { MHD_destroy_response(mhdResponse) }
        for (name, value) in response.headers + [("X-Request-Id", context.id)] {
            _ = MHD_add_response_header(mhdResponse, name, value)
        }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }

    private static func queryArguments(_ connection: OpaquePointer) -> [(key: String, value: [UInt8])] {
        let collector = QueryCollector()
        _ = withExtendedLifetime(collector) {
            MHD_get_connection_values_n(
                connection, .GET_ARGUMENT_KIND,
                { cls, _, key, keySize, value, valueSize in
                    let collector = Unmanaged<QueryCollector>.fromOpaque(cls!).takeUnretainedValue()
                    let keyBytes = key.map { Array(UnsafeRawBufferPointer(start: $0, count: keySize)) } ?? []
                    let valueBytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: valueSize)) } ?? []
                    collector.pairs.append((String(decoding: keyBytes, as: UTF8.self), valueBytes))
                    return .YES
                }, Unmanaged.passUnretained(collector).toOpaque())
        }
        return collector.pairs
    }
}

/// The running daemon; set once at start, cleared once at stop.
private final class DaemonHandle: @unchecked Sendable {
    // @unchecked: OpaquePointer is not Sendable; it is written by the main
    // thread only (start, stop) and libmicrohttpd's threads never touch it.
    var pointer: OpaquePointer?
}

private final class QueryCollector {
    var pairs: [(key: String, value: [UInt8])] = []
}

/// Looks headers up on the connection while the request lives.
private struct HeaderLookup: @unchecked Sendable {
    // @unchecked: the connection pointer is used only from the request's own
    // libmicrohttpd thread, during the request.
    let connection: OpaquePointer

    init(_ connection: OpaquePointer) { self.connection = connection }

    func value(_ name: String) -> String? {
        MHD_lookup_connection_value(connection, .HEADER_KIND, name).map { String(cString: $0) }
    }
}

/// Per-request state, owned by libmicrohttpd's *con_cls from the first call
/// to the completion notice.
private final class RequestContext {
    let id = RequestContext.makeID()
    let started = Clock.seconds()
    let head: RequestHead
    let plan: RequestPlan
    var summary: RequestSummary
    var status = 0
    var answered = false

    init(head: RequestHead, plan: RequestPlan, summary: RequestSummary) {
        self.head = head
        self.plan = plan
        self.summary = summary
    }

    var body: RequestBody? {
        switch plan {
        case .readJSON(let body), .readRaw(_, let body): return body
        case .answer: return nil
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

// Global functions, not closures in main.swift: libmicrohttpd calls them on
// its own threads, which must not be main-actor code.

private func accessHandler(
    _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ url: UnsafePointer<CChar>?, _ method: UnsafePointer<CChar>?,
    _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
    _ uploadDataSize: UnsafeMutablePointer<Int>?,
    _ contextSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let cls, let connection, let contextSlot, let uploadDataSize else { return .NO }
    let server = Unmanaged<MicroHTTPDServer>.fromOpaque(cls).takeUnretainedValue()
    guard let raw = contextSlot.pointee else {
        let context = server.begin(
            connection, url: url.map { String(cString: $0) } ?? "",
            method: method.map { String(cString: $0) } ?? "")
        contextSlot.pointee = Unmanaged.passRetained(context).toOpaque()
        if case .answer(let response) = context.plan, response.status >= 400 {
            // An early refusal: answered before any body is read (a client
            // that sent Expect: 100-continue never uploads it).
            context.answered = true
            return server.queue(response, on: connection, for: context)
        }
        return .YES
    }
    let context = Unmanaged<RequestContext>.fromOpaque(raw).takeUnretainedValue()
    if uploadDataSize.pointee > 0 {
        if let body = context.body, let uploadData {
            body.append(UnsafeRawBufferPointer(start: uploadData, count: uploadDataSize.pointee))
        }
        uploadDataSize.pointee = 0
        return .YES
    }
    if context.answered { return .YES }
    context.answered = true
    return server.queue(server.finish(context), on: connection, for: context)
}

private func libraryMessage(_ cls: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) {
    guard let cls, let message else { return }
    let server = Unmanaged<MicroHTTPDServer>.fromOpaque(cls).takeUnretainedValue()
    var text = String(cString: message)
    while text.last == "\n" { text.removeLast() }
    server.logger.warning("libmicrohttpd", metadata: ["problem": "\(text)"])
}

private func requestCompleted(
    _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ contextSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ termination: MHD_RequestTerminationCode
) {
    guard let cls, let contextSlot, let raw = contextSlot.pointee else { return }
    let server = Unmanaged<MicroHTTPDServer>.fromOpaque(cls).takeUnretainedValue()
    let context = Unmanaged<RequestContext>.fromOpaque(raw).takeRetainedValue()
    contextSlot.pointee = nil
    server.completed(context, answered: termination == .REQUEST_TERMINATED_COMPLETED_OK)
}
