// The bytes of a text or an attachment: in memory, or in a place the caller
// keeps (the gateway's spool file) and reads in pieces, so that a large one
// is never held whole while the message is built and written. Not the
// message being built: that is MessageAssembly.

/// Bytes the composer reads in pieces, any number of times, from any offset.
public protocol ContentSource: Sendable {
    var count: Int { get }
    /// Copies up to `buffer.count` bytes from `offset` into `buffer`; how
    /// many (0 only at the end), or nil when they cannot be read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int?
}

public struct PartContent: Sendable, Equatable {
    enum Storage: Sendable {
        case bytes([UInt8])
        case source(any ContentSource)
    }

    let storage: Storage

    public init(_ bytes: [UInt8]) { storage = .bytes(bytes) }

    public init(source: any ContentSource) { storage = .source(source) }

    public var count: Int {
        switch storage {
        case .bytes(let bytes): return bytes.count
        case .source(let source): return source.count
        }
    }

    /// The bytes when they are held in memory.
    var inMemory: [UInt8]? {
        if case .bytes(let bytes) = storage { return bytes }
        return nil
    }

    /// Every byte (tests, small contents); nil when they cannot be read.
    public func allBytes() -> [UInt8]? {
        if let bytes = inMemory { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        let complete = forEachPiece(of: 65536) { out.append(contentsOf: $0) }
        return complete ? out : nil
    }

    /// Calls `body` with the bytes in order, in pieces of `size` bytes (the
    /// last may be shorter); false when a piece could not be read.
    public func forEachPiece(of size: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        switch storage {
        case .bytes(let bytes):
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let end = min(raw.count, offset + size)
                    body(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                    offset = end
                }
            }
            return true
        case .source(let source):
            let total = source.count
            var buffer = [UInt8](repeating: 0, count: min(size, max(total, 1)))
            var offset = 0
            while offset < total {
                let wanted = min(buffer.count, total - offset)
                var filled = 0
                while filled < wanted {
                    let read = buffer.withUnsafeMutableBytes { raw in
                        source.read(
                            into: UnsafeMutableRawBufferPointer(rebasing: raw[filled..<wanted]), at: offset + filled)
                    }
                    guard let read, read > 0 else { return false }
                    filled += read
                }
                buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<wanted])) }
                offset += wanted
            }
            return true
        }
    }

    public static func == (lhs: PartContent, rhs: PartContent) -> Bool {
        lhs.count == rhs.count && lhs.allBytes() == rhs.allBytes()
    }
}

/// A text read front to back with a few bytes of look-ahead (and a few of
/// look-back), from memory or a window over a source.
struct ContentReader {
    static let windowSize = 65536
    /// How far before the byte asked for a new window starts.
    static let lookBehind = 8

    private let source: (any ContentSource)?
    private var window: [UInt8]
    /// The offset of `window[0]`.
    private var base = 0
    let count: Int
    /// A piece could not be read; the bytes asked for since read as 0.
    private(set) var failed = false

    init(_ content: PartContent) {
        count = content.count
        switch content.storage {
        case .bytes(let bytes):
            source = nil
            window = bytes
        case .source(let given):
            source = given
            window = []
            base = 0
        }
    }

    /// The byte at `offset`, which is below `count`.
    @inline(__always)
    mutating func byte(at offset: Int) -> UInt8 {
        let index = offset &- base
        if index >= 0 && index < window.count { return window[index] }
        return refill(at: offset)
    }

    private mutating func refill(at offset: Int) -> UInt8 {
        guard let source else { return 0 }
        let start = max(0, offset - Self.lookBehind)
        let length = min(Self.windowSize, count - start)
        if window.count != length { window = [UInt8](repeating: 0, count: length) }
        var filled = 0
        while filled < length {
            let read = window.withUnsafeMutableBytes { raw in
                source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled..<length]), at: start + filled)
            }
            guard let read, read > 0 else {
                failed = true
                break
            }
            filled += read
        }
        base = start
        if failed {
            for index in filled..<length { window[index] = 0 }
        }
        return window[offset - start]
    }
}
