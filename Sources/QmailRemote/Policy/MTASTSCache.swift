// The MTA-STS policy cache (RFC 8461 section 5.1), one file per recipient
// domain in $QMAILHOME/queue/lock/mtasts: the policy as fetched, the TXT id
// it was fetched under, and when. Shared by concurrent commands and the
// gateway: files are written to a temporary name and renamed into place, and
// whoever refreshes a domain holds that domain's flock meanwhile. File names
// are the SHA-256 of the domain, never the domain itself.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

/// A policy from the cache, or one just fetched for it.
struct CachedPolicy: Sendable, Equatable {
    let policy: MTASTSPolicy
    /// The TXT record's id when the policy was fetched.
    let id: [UInt8]
    /// Seconds since the epoch when it was fetched.
    let fetched: Int
    /// The policy's text, as served.
    let text: [UInt8]

    init?(text: [UInt8], id: [UInt8], fetched: Int) {
        guard let policy = MTASTSPolicy(text: text) else { return nil }
        self.policy = policy
        self.id = id
        self.fetched = fetched
        self.text = text
    }

    /// Whether max_age has passed at `now`.
    func expired(at now: Int) -> Bool { now >= fetched + policy.maxAge }
}

struct MTASTSCache: Sendable {
    let directory: String

    static let header = Array("qmail-remote MTA-STS cache 1\n".utf8)
    /// A cache file is a policy (64 KiB at most) and a few lines more.
    static let fileLimit = 70_000

    /// The cached policy for `domain`, expired or not; nil when there is none
    /// or it cannot be read.
    func read(_ domain: [UInt8]) -> CachedPolicy? {
        guard let bytes = Self.contents(at: path(domain, ".policy")),
            bytes.starts(with: Self.header)
        else { return nil }
        let lines = bytes[Self.header.count...].split(
            separator: UInt8(ascii: "\n"), maxSplits: 2, omittingEmptySubsequences: false)
        guard lines.count == 3, lines[0].starts(with: Array("id ".utf8)), lines[1].starts(with: Array("fetched ".utf8)),
            let fetched = Int(String(decoding: lines[1].dropFirst(8), as: UTF8.self))
        else { return nil }
        return CachedPolicy(text: Array(lines[2]), id: Array(lines[0].dropFirst(3)), fetched: fetched)
    }

    /// Stores `entry` for `domain` (a new file renamed over the old one).
    /// False when the directory cannot be made or written: then nothing is cached.
    @discardableResult
    func write(_ entry: CachedPolicy, for domain: [UInt8]) -> Bool {
        guard makeDirectory() else { return false }
        let final = path(domain, ".policy")
        let temporary = final + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        let bytes =
            Self.header + Array("id ".utf8) + entry.id + Array("\nfetched \(entry.fetched)\n".utf8) + entry.text
        let written = (try? Descriptor.writeAll(bytes, to: fd)) != nil && fsync(fd) == 0
        _ = close(fd)
        guard written, rename(temporary, final) == 0 else {
            _ = unlink(temporary)
            return false
        }
        return true
    }

    /// Runs `body` holding `domain`'s lock, so that one process or thread at a
    /// time refreshes it; without a usable directory, runs it unlocked.
    func withLock<T>(_ domain: [UInt8], _ body: () -> T) -> T {
        guard makeDirectory() else { return body() }
        let fd = open(path(domain, ".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return body() }
        defer { _ = close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { _ = flock(fd, LOCK_UN) }
        return body()
    }

    /// `directory`/ and the SHA-256 of the lowercased domain, then `suffix`.
    func path(_ domain: [UInt8], _ suffix: String) -> String {
        var name = ASCII.lowercased(domain)
        if name.last == UInt8(ascii: ".") { name.removeLast() }
        return directory + "/" + Hex.text(SHA256.digest(name)) + suffix
    }

    private func makeDirectory() -> Bool {
        if mkdir(directory, 0o755) == 0 { return true }
        var info = stat()
        return errno == EEXIST && stat(directory, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func contents(at path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
            if bytes.count > fileLimit { return nil }
        }
    }
}
