// Collects a request body as libmicrohttpd hands it over: in memory up to a
// threshold, then in an unlinked temporary file (nothing is left behind, even
// after a crash), so memory does not grow with the message. Past the limit it
// keeps counting but stores nothing: the answer is 413.

#if canImport(Glibc)
import Glibc
#endif

public final class RequestBody {
    public let limit: Int
    private let spoolThreshold: Int
    private let spoolDirectory: String
    private var memory: [UInt8] = []
    private var file: SpoolFile?
    public private(set) var count = 0
    public private(set) var failed = false

    public init(limit: Int, spoolThreshold: Int, spoolDirectory: String) {
        self.limit = limit
        self.spoolThreshold = spoolThreshold
        self.spoolDirectory = spoolDirectory
    }

    public var tooLarge: Bool { count > limit }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        count += bytes.count
        if tooLarge || failed {
            memory = []
            file = nil
            return
        }
        if file == nil && memory.count + bytes.count > spoolThreshold {
            guard let spool = SpoolFile(directory: spoolDirectory) else { failed = true; return }
            if !memory.withUnsafeBytes({ spool.append($0) }) {
                failed = true
                return
            }
            memory = []
            file = spool
        }
        if let file {
            if !file.append(bytes) { failed = true }
        } else {
            memory.append(contentsOf: bytes)
        }
    }

    /// The bytes, for bodies that stayed in memory (JSON always does).
    public var bytes: [UInt8]? { file == nil ? memory : nil }

    /// The message for delivery: each call gives an independent reader.
    public var message: StoredMessage {
        if let file { return .spooled(file) }
        return .memory(memory)
    }
}

/// A message the gateway holds, readable any number of times concurrently.
public enum StoredMessage: Sendable {
    case memory([UInt8])
    case spooled(SpoolFile)

    public func reader() -> any MessageSourceBox {
        switch self {
        case .memory(let bytes): return MemoryMessage(bytes)
        case .spooled(let file): return SpoolMessage(file)
        }
    }
}

/// An unlinked temporary file; the descriptor closes when the last holder goes.
public final class SpoolFile: @unchecked Sendable {
    // @unchecked: the descriptor is written only while the request body
    // arrives (one libmicrohttpd thread), then only read with pread.
    let fd: Int32
    private(set) var size = 0

    init?(directory: String) {
        // mkstemp replaces the template's six trailing X with a unique name.
        var template = Array((directory + "/qmail-remote-httpd." + String(repeating: "X", count: 6)).utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + offset, bytes.count - offset, off_t(size + offset))
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        size += bytes.count
        return true
    }

    deinit { _ = close(fd) }
}
