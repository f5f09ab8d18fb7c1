// A message in a regular file, from an offset to the end, read with pread:
// any number of these read the same file without disturbing each other or
// the descriptor's offset. The queue file qmail hands over is read so twice
// when signing (once to sign, once to send); so is a spooled pipe.

#if canImport(Glibc)
import Glibc
#endif

final class FileRegionMessage: MessageSource {
    private let fd: Int32
    private let start: off_t
    private var offset: off_t
    /// Keeps the file open (a spool) while a reader needs it.
    private let owner: AnyObject?

    /// nil unless `fd` is a regular file; starts at its current offset.
    convenience init?(fd: Int32) {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let start = lseek(fd, 0, SEEK_CUR)
        guard start >= 0 else { return nil }
        self.init(fd: fd, start: start, owner: nil)
    }

    init(fd: Int32, start: off_t, owner: AnyObject?) {
        self.fd = fd
        self.start = start
        self.offset = start
        self.owner = owner
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        let count = try read(into: buffer, at: offset)
        offset += off_t(count)
        return count
    }

    func facts() -> MessageFacts? {
        var facts = MessageFacts(size: 0, eightBit: false)
        var chunk = [UInt8](unsafeUninitializedCapacity: 65536) { $1 = 65536 }
        var position = start
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { raw throws(MessageReadError) in
                    try read(into: raw, at: position)
                }
            } catch {
                return nil
            }
            if count == 0 { return facts }
            chunk.withUnsafeBytes { facts.scan(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            position += off_t(count)
        }
    }

    func readerFromStart() -> (any MessageSource)? { FileRegionMessage(fd: fd, start: start, owner: owner) }

    private func read(into buffer: UnsafeMutableRawBufferPointer, at position: off_t) throws(MessageReadError) -> Int {
        while true {
            let count = pread(fd, buffer.baseAddress, buffer.count, position)
            if count >= 0 { return count }
            if errno != EINTR { throw MessageReadError() }
        }
    }
}
