// Where the composer's encoders write: the message in memory (an array),
// a count of the bytes they would write, or a caller's MessageSink fed in
// pieces (the gateway's spool). Reading what was written is not here.

/// Takes the built message in pieces, front to back (a spool file, a buffer).
public protocol MessageSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer)
}

protocol ByteOutput {
    mutating func put(_ byte: UInt8)
    mutating func put(_ bytes: UnsafeRawBufferPointer)
}

extension Array: ByteOutput where Element == UInt8 {
    @inline(__always)
    mutating func put(_ byte: UInt8) { append(byte) }

    mutating func put(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}

/// How many bytes an encoder writes, without keeping them.
struct ByteCount: ByteOutput {
    var count = 0

    mutating func put(_ byte: UInt8) { count += 1 }

    mutating func put(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
}

/// Bytes gathered into pieces of 64 KiB for a sink; `flush` sends the last.
struct SinkOutput: ByteOutput {
    static let pieceSize = 65536
    let sink: any MessageSink
    private var piece: [UInt8] = []

    init(_ sink: any MessageSink) {
        self.sink = sink
        piece.reserveCapacity(Self.pieceSize)
    }

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        piece.append(byte)
        if piece.count >= Self.pieceSize { flush() }
    }

    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        if piece.count + bytes.count < Self.pieceSize {
            piece.append(contentsOf: bytes)
            return
        }
        flush()
        sink.write(bytes)
    }

    mutating func flush() {
        if piece.isEmpty { return }
        piece.withUnsafeBytes { sink.write($0) }
        piece.removeAll(keepingCapacity: true)
    }
}
