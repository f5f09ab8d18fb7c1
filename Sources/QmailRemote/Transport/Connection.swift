// The byte stream an SMTP session talks over. The real one is a socket with
// poll(2) deadlines (SocketConnection); tests may script their own.

public enum TransportError: Error, Sendable, Equatable {
    /// The deadline for this read or write passed.
    case timedOut
    /// The peer closed, reset, or the system call failed (errno kept).
    case failed(Int32)
}

public protocol Connection: AnyObject {
    /// Reads what is there (at least one byte), or 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int
    /// Writes every byte or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError)
    func close()
}

extension Connection {
    public func write(_ bytes: [UInt8]) throws(TransportError) {
        var failure: TransportError?
        bytes.withUnsafeBytes { raw in
            do throws(TransportError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
