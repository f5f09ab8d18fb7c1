// An in-memory Connection for unit tests: hands out scripted server bytes in
// the pieces given, records what the client wrote, and can fail on demand.

@testable import QmailRemote

final class ScriptedConnection: Connection {
    private var pieces: [[UInt8]]
    private(set) var written: [UInt8] = []
    /// Each write call's bytes, to see what went out together.
    private(set) var writes: [[UInt8]] = []
    private(set) var closed = false
    /// Writes fail once this many bytes were written in all.
    var failWritesAfter: Int?

    init(_ pieces: [String]) { self.pieces = pieces.map { Array($0.utf8) } }
    init(bytes pieces: [[UInt8]]) { self.pieces = pieces }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard !pieces.isEmpty else { return 0 }
        var piece = pieces.removeFirst()
        let count = min(piece.count, buffer.count)
        for index in 0..<count { buffer[index] = piece[index] }
        if count < piece.count {
            piece.removeFirst(count)
            pieces.insert(piece, at: 0)
        }
        return count
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        if let limit = failWritesAfter, written.count + bytes.count > limit { throw .failed(32) }
        written.append(contentsOf: bytes)
        writes.append(Array(bytes))
    }

    func close() { closed = true }

    var writtenText: String { String(decoding: written, as: UTF8.self) }
}

final class BytesMessage: MessageSource {
    private var bytes: [UInt8]
    private let pieceSize: Int

    init(_ text: String, pieceSize: Int = 7) {
        bytes = Array(text.utf8)
        self.pieceSize = pieceSize
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        let count = min(bytes.count, buffer.count, pieceSize)
        for index in 0..<count { buffer[index] = bytes[index] }
        bytes.removeFirst(count)
        return count
    }
}
