// The only file that calls libmicrohttpd: starts its daemon (one epoll
// thread, no listening socket: the Acceptor hands it connections; HTTPS
// through its GnuTLS, with the certificate picked per handshake), turns its
// calls into MicroHTTPDHandler calls with Swift values, and wraps a
// connection (head, socket, suspend/resume, queueing an answer). Its
// callbacks run on the library's thread, which must never block.

internal import CMicroHTTPD
import QmailRemote
#if canImport(Glibc)
import Glibc
#endif

/// What the gateway does when libmicrohttpd calls. All on the library's thread.
protocol MicroHTTPDHandler: AnyObject, Sendable {
    /// A connection handed over by the Acceptor is now served; the result is its context.
    func connectionStarted(_ connection: MHDConnection) -> ClientConnection?
    func connectionClosed(_ client: ClientConnection)
    /// The request line is in (`target` exactly as sent); the result is the request's context.
    func requestLineReceived(
        _ target: [UInt8], on client: ClientConnection?, connection: MHDConnection
    )
        -> RequestContext
    /// Every access-handler call: the head (`upload` nil, first call), a piece
    /// of the body, the end of the body (`upload` empty), or again after a
    /// resume. false closes the connection.
    func handle(
        _ request: RequestContext, client: ClientConnection?, connection: MHDConnection,
        upload: UnsafeRawBufferPointer?
    ) -> Bool
    /// The request is over: answered (`answered`) or cut off.
    func requestCompleted(_ request: RequestContext, client: ClientConnection?, answered: Bool, queuedStatus: Int?)
    func libraryMessage(_ text: String)
}

public final class MicroHTTPD: @unchecked Sendable {
    // @unchecked: `daemon` is set once in init and cleared once by stop(),
    // both on the main thread; other threads only use it in between.
    private var daemon: OpaquePointer?
    private let handler: any MicroHTTPDHandler

    /// HTTPS as libmicrohttpd takes it.
    struct TLS {
        let priorities: String
        let certificateCallback: UnsafeMutableRawPointer?
        /// PEM of the CAs client certificates must chain to; nil: none asked for.
        let clientCA: [UInt8]?
    }

    init?(handler: any MicroHTTPDHandler, settings: GatewaySettings, tls: TLS?) {
        self.handler = handler
        var callbacks = cmhd_callbacks(
            access: accessHandler, completed: requestCompleted, connection: connectionNotice,
            request_line: requestLine, log: libraryMessage,
            cls: Unmanaged.passUnretained(self).toOpaque())
        // Room for connections being closed while new ones come.
        let limit = UInt32(settings.maxActiveConnections + 64)
        let started: OpaquePointer?
        if let tls {
            // The library keeps the strings' pointers: they live as long as the process.
            let priorities = strdup(tls.priorities)
            let clientCA = tls.clientCA.map { strdup(String(decoding: $0, as: UTF8.self)) }
            var options = cmhd_tls(
                priorities: priorities, certificate_callback: tls.certificateCallback, client_ca_pem: clientCA ?? nil)
            started = cmhd_start(
                &callbacks, 0, limit, UInt32(settings.idleTimeoutSeconds), settings.connectionBufferBytes, &options)
        } else {
            started = cmhd_start(
                &callbacks, 0, limit, UInt32(settings.idleTimeoutSeconds), settings.connectionBufferBytes, nil)
        }
        guard let started else { return nil }
        daemon = started
    }

    /// Hands a connected socket to the library; it owns the descriptor from
    /// now on (closed by it, even when this fails).
    func serve(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t) -> Bool {
        guard let daemon else {
            close(fd)
            return false
        }
        return MHD_add_connection(daemon, fd, address, length) == .YES
    }

    /// Stops the library's thread and closes every connection. Only when no
    /// connection is suspended: the library aborts otherwise.
    func stop() {
        guard let daemon else { return }
        MHD_stop_daemon(daemon)
        self.daemon = nil
    }

    fileprivate var events: any MicroHTTPDHandler { handler }
}

/// A connection during one of the library's calls (or, to resume it, from any thread).
struct MHDConnection: @unchecked Sendable {
    // @unchecked: the pointer is used on the library's thread during its
    // calls, and from other threads only for MHD_resume_connection, which the
    // library allows from any thread.
    fileprivate let pointer: OpaquePointer

    var fd: Int32 { cmhd_connection_fd(pointer) }

    /// The whole head is in (the library has not necessarily handed it over yet).
    var headIsComplete: Bool { cmhd_header_size(pointer) > 0 }

    /// The TLS session under HTTPS (its handshake may not be over yet).
    var tlsSession: TLSSession? { cmhd_tls_session(pointer).map { TLSSession(pointer: $0) } }

    /// An answer is queued (ours, or the library's own).
    var hasQueuedAnswer: Bool { cmhd_queued_status(pointer) != 0 }

    /// The head as libmicrohttpd parsed it, with the target as the request line carried it.
    func head(target: [UInt8], method: String, version: String) -> RequestHead {
        let collector = HeaderCollector()
        _ = withExtendedLifetime(collector) {
            MHD_get_connection_values_n(
                pointer, .HEADER_KIND,
                { cls, _, key, keySize, value, valueSize in
                    let collector = Unmanaged<HeaderCollector>.fromOpaque(cls!).takeUnretainedValue()
                    let name = key.map {
                        String(decoding: UnsafeRawBufferPointer(start: $0, count: keySize), as: UTF8.self)
                    }
                    let text = value.map {
                        String(decoding: UnsafeRawBufferPointer(start: $0, count: valueSize), as: UTF8.self)
                    }
                    collector.headers.append((name ?? "", text ?? ""))
                    return .YES
                }, Unmanaged.passUnretained(collector).toOpaque())
        }
        let lineBytes = method.utf8.count + 1 + target.count + 1 + version.utf8.count
        let headBytes = cmhd_header_size(pointer)
        return RequestHead(
            method: method, target: target, version: version, headers: collector.headers,
            requestLineBytes: lineBytes, headerBytes: max(0, headBytes - lineBytes - 2))
    }

    /// Stops the library reading or writing this connection until `resume`.
    func suspend() { MHD_suspend_connection(pointer) }

    /// The library calls the access handler again (on its thread) soon after.
    func resume() { MHD_resume_connection(pointer) }

    /// Queues the answer; false when the library refused it.
    func queue(_ response: HTTPResponse, requestID: String) -> Bool {
        var body = response.body
        let created = body.withUnsafeMutableBytes {
            MHD_create_response_from_buffer($0.count, $0.baseAddress, .RESPMEM_MUST_COPY)
        }
        guard let answer = created else { return false }
        defer { MHD_destroy_response(answer) }
        var headers = response.headers + [("X-Request-Id", requestID)]
        if response.closesConnection { headers.append(("Connection", "close")) }
        for (name, value) in headers { _ = MHD_add_response_header(answer, name, value) }
        return MHD_queue_response(pointer, UInt32(response.status), answer) == .YES
    }
}

private final class HeaderCollector {
    var headers: [(name: String, value: String)] = []
}

// Global functions, not closures in main.swift: libmicrohttpd calls them on
// its own thread, which must not be main-actor code.

private func server(_ cls: UnsafeMutableRawPointer?) -> MicroHTTPD {
    Unmanaged<MicroHTTPD>.fromOpaque(cls!).takeUnretainedValue()
}

private func clientContext(_ connection: OpaquePointer?) -> ClientConnection? {
    guard let connection, let raw = cmhd_socket_context(connection) else { return nil }
    return Unmanaged<ClientConnection>.fromOpaque(raw).takeUnretainedValue()
}

private func connectionNotice(
    _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ code: MHD_ConnectionNotificationCode
) {
    guard let connection, let socketContext else { return }
    switch code {
    case .CONNECTION_NOTIFY_STARTED:
        if let client = server(cls).events.connectionStarted(MHDConnection(pointer: connection)) {
            socketContext.pointee = Unmanaged.passRetained(client).toOpaque()
        }
    case .CONNECTION_NOTIFY_CLOSED:
        guard let raw = socketContext.pointee else { return }
        socketContext.pointee = nil
        server(cls).events.connectionClosed(Unmanaged<ClientConnection>.fromOpaque(raw).takeRetainedValue())
    default:
        break
    }
}

private func requestLine(
    _ cls: UnsafeMutableRawPointer?, _ target: UnsafePointer<CChar>?, _ connection: OpaquePointer?
) -> UnsafeMutableRawPointer? {
    let bytes = target.map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? []
    guard let connection else { return nil }
    let request = server(cls).events.requestLineReceived(
        bytes, on: clientContext(connection), connection: MHDConnection(pointer: connection))
    return Unmanaged.passRetained(request).toOpaque()
}

private func accessHandler(
    _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ url: UnsafePointer<CChar>?, _ method: UnsafePointer<CChar>?,
    _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
    _ uploadDataSize: UnsafeMutablePointer<Int>?,
    _ contextSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let connection, let contextSlot, let uploadDataSize, let raw = contextSlot.pointee else { return .NO }
    let request = Unmanaged<RequestContext>.fromOpaque(raw).takeUnretainedValue()
    let mhd = MHDConnection(pointer: connection)
    let client = clientContext(connection)
    if !request.headSeen {
        // The first call. The target from the request line is cut at a NUL
        // byte sent as such; the library's pointers show its true length.
        if let url, let version, version.pointee != 0 {
            let length = UnsafeRawPointer(version) - UnsafeRawPointer(url) - 1
            if length != request.target.count { request.targetHadNUL = true }
        }
        request.method = method.map { String(cString: $0) } ?? ""
        request.version = version.map { String(cString: $0) } ?? ""
        request.headSeen = true
        return server(cls).events.handle(request, client: client, connection: mhd, upload: nil) ? .YES : .NO
    }
    let size = uploadDataSize.pointee
    let upload = UnsafeRawBufferPointer(start: uploadData, count: uploadData == nil ? 0 : size)
    uploadDataSize.pointee = 0
    return server(cls).events.handle(request, client: client, connection: mhd, upload: upload) ? .YES : .NO
}

private func requestCompleted(
    _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ contextSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ termination: MHD_RequestTerminationCode
) {
    guard let contextSlot, let raw = contextSlot.pointee else { return }
    contextSlot.pointee = nil
    let request = Unmanaged<RequestContext>.fromOpaque(raw).takeRetainedValue()
    let status = connection.map { Int(cmhd_queued_status($0)) } ?? 0
    server(cls).events.requestCompleted(
        request, client: clientContext(connection), answered: termination == .REQUEST_TERMINATED_COMPLETED_OK,
        queuedStatus: status == 0 ? nil : status)
}

private func libraryMessage(_ cls: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) {
    guard let message else { return }
    var text = String(cString: message)
    while text.last == "\n" { text.removeLast() }
    server(cls).events.libraryMessage(text)
}
