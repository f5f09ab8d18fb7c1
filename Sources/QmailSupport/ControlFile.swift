// Reads qmail control files: a file is lines, each with trailing spaces,
// tabs and CR stripped; a missing file is "not there" (nil), any other
// failure to read it is an error (the "Unable to read control files" report).

#if canImport(Glibc)
import Glibc
#endif

/// A control file exists but cannot be used; `reason` goes to stderr only.
public struct ControlError: Error, Sendable, Equatable {
    public let file: String
    public let reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
}

public enum ControlFile {
    /// The most bytes read from one control file.
    static let sizeLimit = 1 << 20

    /// The file's lines, or nil when it does not exist.
    public static func lines(at path: String) throws(ControlError) -> [[UInt8]]? {
        guard let bytes = try contents(at: path) else { return nil }
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            var line = Array(line)
            while let last = line.last, last == 32 || last == 9 || last == 13 { line.removeLast() }
            return line
        }
        if bytes.last == 10 { lines.removeLast() }
        return lines
    }

    /// The first line, for one-value files; nil when the file does not exist.
    public static func firstLine(at path: String) throws(ControlError) -> [UInt8]? {
        guard let lines = try lines(at: path) else { return nil }
        return lines.first ?? []
    }

    /// A number from the first line's leading digits; `fallback` when the file
    /// is missing or does not start with a digit. Capped at 10^9.
    public static func number(at path: String, fallback: Int) throws(ControlError) -> Int {
        guard let line = try firstLine(at: path) else { return fallback }
        var value = 0
        var sawDigit = false
        for byte in line {
            guard byte >= 48 && byte <= 57 else { break }
            sawDigit = true
            value = min(value * 10 + Int(byte - 48), 1_000_000_000)
        }
        return sawDigit ? value : fallback
    }

    /// Whether a file is there (without reading it: it may hold a key).
    public static func exists(at path: String) -> Bool { access(path, F_OK) == 0 }

    /// The names in a directory (not "." and ".."), or nil when it does not exist.
    public static func entries(in path: String) throws(ControlError) -> [[UInt8]]? {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return nil }
            throw ControlError(file: path, reason: String(cString: strerror(errno)))
        }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [46] && name != [46, 46] { names.append(name) }
        }
        return names
    }

    /// The whole file (at most `sizeLimit` bytes), or nil when it does not exist.
    public static func contents(at path: String) throws(ControlError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ControlError(file: path, reason: String(cString: strerror(errno)))
        }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](unsafeUninitializedCapacity: 4096) { $1 = 4096 }
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw ControlError(file: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > sizeLimit { throw ControlError(file: path, reason: "larger than \(sizeLimit) bytes") }
        }
    }
}
