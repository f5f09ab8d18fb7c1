// The right side of the Message-IDs POST /v1/messages writes, as
// qmail-inject chooses it: control/idhost, else control/me, else this
// machine's host name, else "localhost" (the first that is a host name or
// address literal). Read at most once a second, so edits apply without a restart.

import MailComposer
import QmailRemote
import QmailSupport
#if canImport(Glibc)
import Glibc
#endif

public final class MessageIDHost: @unchecked Sendable {
    // @unchecked: `cached` is read and written under `lock` only.
    private let controlDirectory: String?
    private let lock = Lock()
    private var cached: (loaded: Double, composer: Composer)?

    /// From the installation's control files.
    public init(environment: Environment) { controlDirectory = environment.controlDirectory }

    /// Always `host` (tests); "localhost" if it is not a host name.
    public init(fixed host: String) {
        controlDirectory = nil
        cached = (.infinity, Composer(messageIDDomain: host) ?? Self.fallback)
    }

    private static let fallback = Composer(messageIDDomain: "localhost")!

    /// A composer writing Message-IDs for the current host.
    func composer() -> Composer {
        let now = Clock.seconds()
        return lock.withLock {
            if let cached, now - cached.loaded < 1 || controlDirectory == nil { return cached.composer }
            let composer = Self.choose(controlDirectory ?? "")
            cached = (now, composer)
            return composer
        }
    }

    private static func choose(_ control: String) -> Composer {
        for name in ["idhost", "me"] {
            if let line = try? ControlFile.firstLine(at: control + "/" + name),
                let composer = Composer(messageIDDomain: String(decoding: line, as: UTF8.self))
            {
                return composer
            }
        }
        var name = [CChar](repeating: 0, count: 256)
        if gethostname(&name, name.count - 1) == 0,
            let composer = Composer(
                messageIDDomain: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        {
            return composer
        }
        return fallback
    }
}
