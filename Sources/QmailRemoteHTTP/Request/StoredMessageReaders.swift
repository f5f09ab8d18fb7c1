// Readers over a stored message for the core's MessageSource: one per
// delivery, each with its own position, so domains can be delivered at once.
// The gateway holds the whole message, so each reader also knows its facts
// (size on the wire, 8-bit or not) for SIZE= and BODY=8BITMIME, and can give
// another reader from the start (to sign before sending).

import QmailRemote
#if canImport(Glibc)
import Glibc
#endif

/// A MessageSource the gateway can hand to any thread it starts.
public protocol MessageSourceBox: MessageSource {}

final class MemoryMessage: MessageSourceBox {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

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

    func facts() -> MessageFacts? {
        var facts = MessageFacts(size: 0, eightBit: false)
        bytes.withUnsafeBytes { facts.scan($0) }
        return facts
    }

    func readerFromStart() -> (any MessageSource)? { MemoryMessage(bytes) }
}

final class SpoolMessage: MessageSourceBox {
    private let file: SpoolFile
    private var position = 0

    init(_ file: SpoolFile) { self.file = file }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        let count = try read(into: buffer, at: position)
        position += count
        return count
    }

    func readerFromStart() -> (any MessageSource)? { SpoolMessage(file) }

    /// Scanned with pread from the start; the reader's position stays.
    func facts() -> MessageFacts? {
        var facts = MessageFacts(size: 0, eightBit: false)
        var chunk = [UInt8](unsafeUninitializedCapacity: 65536) { $1 = 65536 }
        var offset = 0
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { raw throws(MessageReadError) in
                    try read(into: raw, at: offset)
                }
            } catch {
                return nil
            }
            if count == 0 { return facts }
            chunk.withUnsafeBytes { facts.scan(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += count
        }
    }

    private func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(MessageReadError) -> Int {
        while true {
            let count = pread(file.fd, buffer.baseAddress, min(buffer.count, file.size - offset), off_t(offset))
            if count >= 0 { return count }
            if errno != EINTR { throw MessageReadError() }
        }
    }
}
