// Answers written straight on a socket, for the moments libmicrohttpd cannot
// queue one (a head it has not finished, a body still arriving) or has not
// seen the connection at all (the Acceptor's refusals). Only ever when
// nothing else has been written for the request. Under HTTPS the answer
// goes out as a TLS record on the connection's session, once its handshake
// is over (a request line came); before that there is nobody to answer.

#if canImport(Glibc)
import Glibc
#endif

enum SocketAnswer {
    /// Writes the whole answer if the socket takes it at once (it is small
    /// and the socket's buffer is empty); false otherwise.
    @discardableResult
    static func write(_ response: HTTPResponse, requestID: String, on fd: Int32, tls: TLSSession? = nil) -> Bool {
        let bytes = response.wireBytes(requestID: requestID)
        if let tls { return tls.send(bytes) }
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        return sent == bytes.count
    }

    /// The answer, then no more writing: the client sees the answer and the
    /// end, and whatever it still sends is read and dropped by the lingerer.
    static func finishWriting(_ fd: Int32) { _ = shutdown(fd, Int32(SHUT_WR)) }

    /// Ends the connection both ways now (for clients too slow to wait for).
    static func cut(_ fd: Int32) { _ = shutdown(fd, Int32(SHUT_RDWR)) }
}
