// Everything a delivery needs from the installation: the control files of
// $CONTROLDIR (default $QMAILHOME/control), the tcpto table under $QMAILHOME,
// and QMAILREMOTE_DNS. Loaded once per delivery (the command) or per request.

#if canImport(Glibc)
import Glibc
#endif

public struct Configuration: Sendable {
    public var helohost: [UInt8]
    public var routes: SMTPRoutes
    /// Seconds to wait for a connection (control/timeoutconnect).
    public var timeoutConnect: Int
    /// Seconds to wait for each read and write (control/timeoutremote).
    public var timeoutRemote: Int
    /// The connect-timeout table, when there is one.
    public var connectTimeouts: ConnectTimeoutTable?
    /// The name servers to ask; nil for the system's.
    public var dnsServers: [DNSServer]?

    public init(helohost: [UInt8], routes: SMTPRoutes = SMTPRoutes(), timeoutConnect: Int = 60,
                timeoutRemote: Int = 1200, connectTimeouts: ConnectTimeoutTable? = nil,
                dnsServers: [DNSServer]? = nil) {
        self.helohost = helohost
        self.routes = routes
        self.timeoutConnect = timeoutConnect
        self.timeoutRemote = timeoutRemote
        self.connectTimeouts = connectTimeouts
        self.dnsServers = dnsServers
    }

    /// Why the installation cannot be used; each is one report.
    public enum LoadError: Error, Sendable, Equatable {
        case noHomeDirectory(String)
        case control(ControlError)
        case badDNSSetting(String)

        public var failure: LocalFailure {
            switch self {
            case .noHomeDirectory: return .noHomeDirectory
            case .control: return .unreadableControlFiles
            case .badDNSSetting: return .badDNSSetting
            }
        }

        /// One line for stderr saying exactly what is wrong.
        public var diagnostic: String {
            switch self {
            case .noHomeDirectory(let path): return "\(path) is not a directory"
            case .control(let error): return "\(error.file): \(error.reason)"
            case .badDNSSetting(let value): return "QMAILREMOTE_DNS=\(value) is not IP[:PORT][,IP[:PORT]...] (at most \(DNSServerList.maximum))"
            }
        }
    }

    /// Reads the installation named by the environment.
    public static func load(environment: Environment = .process) throws(LoadError) -> Configuration {
        let home = environment.qmailHome
        guard isDirectory(home) else { throw .noHomeDirectory(home) }
        let control = environment.controlDirectory
        var dnsServers: [DNSServer]?
        if let setting = environment.dnsSetting {
            guard let servers = DNSServerList.parse(setting) else { throw .badDNSSetting(setting) }
            dnsServers = servers
        }
        do throws(ControlError) {
            let me = try ControlFile.firstLine(at: control + "/me")
            guard let helohost = try ControlFile.firstLine(at: control + "/helohost") ?? me else {
                throw ControlError(file: control + "/helohost", reason: "neither helohost nor me exists")
            }
            if helohost.contains(where: { $0 < 32 || $0 == 127 }) {
                throw ControlError(file: control + "/helohost", reason: "contains a control character")
            }
            var routes = SMTPRoutes()
            if let lines = try ControlFile.lines(at: control + "/smtproutes") {
                routes = try SMTPRoutes(lines: lines, file: control + "/smtproutes")
            }
            return Configuration(
                helohost: helohost,
                routes: routes,
                timeoutConnect: try ControlFile.number(at: control + "/timeoutconnect", fallback: 60),
                timeoutRemote: try ControlFile.number(at: control + "/timeoutremote", fallback: 1200),
                connectTimeouts: ConnectTimeoutTable(path: home + "/queue/lock/tcpto"),
                dnsServers: dnsServers)
        } catch {
            throw .control(error)
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
