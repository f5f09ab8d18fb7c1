// Readers over a stored message for the core's MessageSource: one per
// delivery, each with its own position, so domains can be delivered at once.

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
}

final class SpoolMessage: MessageSourceBox {
    private let file: SpoolFile
    private var position = 0

    init(_ file: SpoolFile) { self.file = file }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        while true {
            let count = pread(file.fd, buffer.baseAddress, min(buffer.count, file.size - position), off_t(position))
            if count >= 0 {
                position += count
                return count
            }
            if errno != EINTR { throw MessageReadError(errno: errno) }
        }
    }
}
