// Message bodies too large to keep inline, as files in a directory beside
// the SQLite database (`state.db.bodies/`), one per delivery, named by its id.
// A file is written and fsynced, and so is the directory, before the row
// that names it commits; files no row names (a crash between the two) are
// removed when the store opens. PostgreSQL keeps every body in its rows.

#if canImport(Glibc)
import Glibc
#endif

final class BodyFiles: Sendable {
    let directory: String

    init(databasePath: String) throws(StoreError) {
        directory = databasePath + ".bodies"
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw Self.error("cannot create \(directory)", errno)
        }
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// Writes the message to a new file named `name` and makes it durable.
    func write(_ name: String, _ message: MessageBody) throws(StoreError) {
        let path = path(name)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.error("cannot create \(path)", errno) }
        var failure: StoreError?
        switch message {
        case .bytes(let bytes):
            failure = bytes.withUnsafeBytes { writeAll(fd, $0, path: path) }
        case .file(let source, let size):
            failure = copy(from: source, size: size, to: fd, path: path)
        }
        if failure == nil && fsync(fd) != 0 { failure = Self.error("cannot fsync \(path)", errno) }
        close(fd)
        if failure == nil { failure = syncDirectory() }
        if let failure {
            unlink(path)
            throw failure
        }
    }

    func remove(_ name: String) { unlink(path(name)) }

    /// Every file in the directory, for the sweep at open.
    func names() -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private func syncDirectory() -> StoreError? {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return Self.error("cannot open \(directory)", errno) }
        defer { close(fd) }
        return fsync(fd) == 0 ? nil : Self.error("cannot fsync \(directory)", errno)
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) -> StoreError? {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return Self.error("cannot write \(path)", written < 0 ? errno : ENOSPC) }
            offset += written
        }
        return nil
    }

    private func copy(from source: Int32, size: Int, to fd: Int32, path: String) -> StoreError? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset = 0
        while offset < size {
            let count = buffer.withUnsafeMutableBytes {
                pread(source, $0.baseAddress, min($0.count, size - offset), off_t(offset))
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return Self.error("cannot read the spooled message", errno) }
            if count == 0 { return .ioError("the spooled message ended after \(offset) of \(size) bytes") }
            if let failure = buffer.withUnsafeBytes({
                writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<count]), path: path)
            }) {
                return failure
            }
            offset += count
        }
        return nil
    }

    static func error(_ what: String, _ code: Int32) -> StoreError {
        let detail = "\(what): \(String(cString: strerror(code)))"
        switch code {
        case ENOSPC, EDQUOT, EFBIG: return .diskFull(detail)
        case EROFS, EACCES, EPERM: return .readOnly(detail)
        case ENOENT, ENOTDIR: return .cannotOpen(detail)
        default: return .ioError(detail)
        }
    }
}
