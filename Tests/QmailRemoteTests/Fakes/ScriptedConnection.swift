// An in-memory Connection for unit tests: hands out scripted server bytes in
// the pieces given, records what the client wrote (all, and per write call),
// can fail writes on demand, and says whether input waits (for reuse checks).
// Also BytesMessage, a MessageSource over bytes with known or unknown facts.

import QmailSupport

@testable import QmailRemote

final class ScriptedConnection: Connection, @unchecked Sendable {
    // @unchecked: `closed`, `written` and `writes` are guarded by `lock`, so
    // a test may look while the cache's reaper thread closes the connection.
    private let lock = Lock()
    private var pieces: [[UInt8]]
    private var _written: [UInt8] = []
    private var _writes: [[UInt8]] = []
    private var _closed = false
    var written: [UInt8] { lock.withLock { _written } }
    /// Each write call's bytes, to see what went out together.
    var writes: [[UInt8]] { lock.withLock { _writes } }
    var closed: Bool { lock.withLock { _closed } }
    /// Writes fail once this many bytes were written in all.
    var failWritesAfter: Int?
    /// The peer has closed: reads give end of stream, and it shows as input.
    var peerClosed = false

    init(_ pieces: [String]) { self.pieces = pieces.map { Array($0.utf8) } }
    init(bytes pieces: [[UInt8]]) { self.pieces = pieces }

    /// Bytes the server sent unasked, already waiting to be read (as
    /// against scripted replies, which come when asked).
    var unaskedInput = false

    /// More scripted server bytes; `unasked`: they are already there.
    func add(_ piece: String, unasked: Bool = false) {
        pieces.append(Array(piece.utf8))
        unaskedInput = unaskedInput || unasked
    }

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
        let failure: TransportError? = lock.withLock {
            if _closed { return .failed(9) }
            if let limit = failWritesAfter, _written.count + bytes.count > limit { return .failed(32) }
            _written.append(contentsOf: bytes)
            _writes.append(Array(bytes))
            return nil
        }
        if let failure { throw failure }
    }

    var hasInputOrClosed: Bool { peerClosed || unaskedInput }

    func close() { lock.withLock { _closed = true } }

    var writtenText: String { String(decoding: written, as: UTF8.self) }
    var unread: Int { pieces.count }
}

final class BytesMessage: MessageSource {
    private var bytes: [UInt8]
    private let pieceSize: Int
    private let known: Bool
    private(set) var reads = 0

    /// `known`: the facts can be had (as for a file); else nil (a pipe).
    convenience init(_ text: String, pieceSize: Int = 7, known: Bool = false) {
        self.init(bytes: Array(text.utf8), pieceSize: pieceSize, known: known)
    }

    init(bytes: [UInt8], pieceSize: Int = 7, known: Bool = false) {
        self.bytes = bytes
        self.pieceSize = pieceSize
        self.known = known
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        reads += 1
        let count = min(bytes.count, buffer.count, pieceSize)
        for index in 0..<count { buffer[index] = bytes[index] }
        bytes.removeFirst(count)
        return count
    }

    func facts() -> MessageFacts? {
        guard known else { return nil }
        var facts = MessageFacts(size: 0, eightBit: false)
        bytes.withUnsafeBytes { facts.scan($0) }
        return facts
    }
}

/// A message whose reading fails.
final class UnreadableMessage: MessageSource {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        throw MessageReadError()
    }
}
