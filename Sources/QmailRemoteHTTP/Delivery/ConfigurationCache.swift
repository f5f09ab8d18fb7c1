// The installation as the gateway sees it: read from the control files at
// most once a second, so edits apply within a second without a restart and
// a busy gateway does not reread five files for every delivery.

import QmailRemote
import QmailSupport

final class ConfigurationCache: @unchecked Sendable {
    // @unchecked: `cached` is read and written under `lock` only.
    static let lifetimeSeconds = 1.0

    private let environment: Environment
    private let lock = Lock()
    private var cached: (loaded: Double, value: Result<Configuration, Configuration.LoadError>)?

    init(environment: Environment) { self.environment = environment }

    /// The configuration and whether it was read just now (for logging a failure once).
    func current() -> (Result<Configuration, Configuration.LoadError>, fresh: Bool) {
        let now = Clock.seconds()
        return lock.withLock {
            if let cached, now - cached.loaded < Self.lifetimeSeconds { return (cached.value, false) }
            let value: Result<Configuration, Configuration.LoadError>
            do throws(Configuration.LoadError) {
                value = .success(try Configuration.load(environment: environment))
            } catch {
                value = .failure(error)
            }
            cached = (now, value)
            return (value, true)
        }
    }
}
