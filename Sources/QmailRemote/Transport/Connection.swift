// The byte stream an SMTP session talks over. The real ones are a socket
// with kernel deadlines (SocketConnection) and TLS over it (TLSConnection);
// unit tests script their own. No SMTP here.

/// Why a connect, read or write failed. Only a connect's `timedOut` feeds
/// the tcpto table; in a conversation either is "connection died".
enum TransportError: Error, Sendable, Equatable {
    /// The deadline passed.
    case timedOut
    /// The peer closed or reset, or the system call failed (errno kept).
    case failed(Int32)
}

protocol Connection: AnyObject {
    /// Reads what is there (at least one byte), or 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int
    /// Writes every byte or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError)
    /// Whether the peer sent something or closed, without waiting: on a
    /// connection that should be idle, either means it cannot be reused.
    var hasInputOrClosed: Bool { get }
    /// Ends the connection (TLS with close_notify first). Safe to call twice.
    func close()
}

extension Connection {
    func write(_ bytes: [UInt8]) throws(TransportError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out.
        let failure: TransportError? = bytes.withUnsafeBytes { raw in
            do throws(TransportError) {
                try write(raw)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }
}
