// A message the gateway holds for delivery, in memory (its share of the
// memory budget returned when the last holder lets go) or in a spool file.
// Each delivery reads it with a reader of its own, so domains can be
// delivered at once; the size and 8-bit facts are known without reading.

import QmailRemote
#if canImport(Glibc)
import Glibc
#endif

public final class StoredMessage: Sendable {
    private enum Storage {
        case memory([UInt8])
        case file(SpoolFile)
    }

    private let storage: Storage
    public let facts: MessageFacts
    private let budget: BodyMemory?
    private let reserved: Int

    init(bytes: [UInt8], facts: MessageFacts, budget: BodyMemory, reserved: Int) {
        storage = .memory(bytes)
        self.facts = facts
        self.budget = budget
        self.reserved = reserved
    }

    init(file: SpoolFile, facts: MessageFacts) {
        storage = .file(file)
        self.facts = facts
        budget = nil
        reserved = 0
    }

    /// A message held in memory outside the budget (tests, small fixed texts).
    public convenience init(_ bytes: [UInt8]) {
        var facts = MessageFacts(size: 0, eightBit: false)
        bytes.withUnsafeBytes { facts.scan($0) }
        self.init(bytes: bytes, facts: facts, budget: BodyMemory(limit: 0), reserved: 0)
    }

    deinit { budget?.release(reserved) }

    /// How many bytes it holds.
    public var count: Int {
        switch storage {
        case .memory(let bytes): return bytes.count
        case .file(let file): return file.size
        }
    }

    public var isSpooled: Bool {
        if case .file = storage { return true }
        return false
    }

    /// The message as the store takes it for the queue: the bytes in memory,
    /// or the spool file's descriptor (read by the store, never copied here).
    /// Valid while this object lives.
    var queueBody: MessageBody {
        switch storage {
        case .memory(let bytes): return .bytes(bytes)
        case .file(let file): return .file(descriptor: file.fd, size: file.size)
        }
    }

    /// A reader from the start, for one delivery.
    public func reader() -> any MessageSource {
        switch storage {
        case .memory(let bytes): return MemoryReader(bytes, facts: facts)
        case .file(let file): return FileReader(file, facts: facts)
        }
    }

    /// Every byte, for tests and small messages.
    public func bytes() -> [UInt8] {
        let source = reader()
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while let count = try? chunk.withUnsafeMutableBytes({ try source.read(into: $0) }), count > 0 {
            out.append(contentsOf: chunk[0..<count])
        }
        return out
    }

    /// The bytes when they are held in memory (no copy), else nil.
    var bytesInMemory: [UInt8]? {
        if case .memory(let bytes) = storage { return bytes }
        return nil
    }

    /// Copies the bytes from `offset` on into `buffer`: how many (0 at the
    /// end), nil when the spool file cannot be read.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int? {
        switch storage {
        case .memory(let bytes):
            let count = max(0, min(buffer.count, bytes.count - offset))
            if count > 0 {
                bytes.withUnsafeBytes {
                    buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count)
                }
            }
            return count
        case .file(let file):
            return file.read(into: buffer, at: offset)
        }
    }
}

private final class MemoryReader: MessageSource {
    private let bytes: [UInt8]
    private let known: MessageFacts
    private var position = 0

    init(_ bytes: [UInt8], facts: MessageFacts) {
        self.bytes = bytes
        known = facts
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        let count = min(buffer.count, bytes.count - position)
        if count > 0 {
            bytes.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + position, byteCount: count)
            }
            position += count
        }
        return count
    }

    func facts() -> MessageFacts? { known }

    func readerFromStart() -> (any MessageSource)? { MemoryReader(bytes, facts: known) }
}

private final class FileReader: MessageSource {
    private let file: SpoolFile
    private let known: MessageFacts
    private var position = 0

    init(_ file: SpoolFile, facts: MessageFacts) {
        self.file = file
        known = facts
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        guard let count = file.read(into: buffer, at: position) else { throw MessageReadError() }
        position += count
        return count
    }

    func facts() -> MessageFacts? { known }

    func readerFromStart() -> (any MessageSource)? { FileReader(file, facts: known) }
}
