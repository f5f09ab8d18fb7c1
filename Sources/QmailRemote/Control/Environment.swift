// The environment variables the core reads: QMAILHOME, CONTROLDIR,
// QMAILREMOTE_DNS and TMPDIR. A value type so tests and the gateway can pass
// their own.

#if canImport(Glibc)
import Glibc
#endif

public struct Environment: Sendable {
    public var qmailHome: String
    public var controlDirectory: String
    public var dnsSetting: String?
    /// Where a piped message is spooled to be signed ($TMPDIR, else /tmp).
    public var temporaryDirectory: String

    public init(
        qmailHome: String = "/var/qmail", controlDirectory: String? = nil, dnsSetting: String? = nil,
        temporaryDirectory: String? = nil
    ) {
        self.qmailHome = qmailHome
        // A relative CONTROLDIR is taken inside QMAILHOME, where qmail looks.
        let control = controlDirectory ?? "control"
        self.controlDirectory = control.hasPrefix("/") ? control : qmailHome + "/" + control
        self.dnsSetting = dnsSetting
        self.temporaryDirectory = temporaryDirectory ?? "/tmp"
    }

    /// The process environment; an empty variable counts as unset.
    public static var process: Environment {
        func value(_ name: String) -> String? {
            guard let raw = getenv(name) else { return nil }
            let text = String(cString: raw)
            return text.isEmpty ? nil : text
        }
        return Environment(
            qmailHome: value("QMAILHOME") ?? "/var/qmail",
            controlDirectory: value("CONTROLDIR"),
            dnsSetting: value("QMAILREMOTE_DNS"),
            temporaryDirectory: value("TMPDIR"))
    }
}
