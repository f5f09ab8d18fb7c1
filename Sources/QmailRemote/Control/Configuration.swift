// Everything a delivery needs from the installation: the control files of
// $CONTROLDIR (default $QMAILHOME/control), the tcpto tables and the MTA-STS
// cache under $QMAILHOME, and QMAILREMOTE_DNS. Loaded once per delivery (the command) or
// at most once a second (the gateway). Callers load it and hand it to
// RemoteDelivery; what is inside is the core's business.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

/// control/addresspreference: the order of each mail host's addresses.
enum AddressPreference: String, Sendable, Equatable {
    case ipv4, ipv6, any
}

public struct Configuration: Sendable {
    var helohost: [UInt8]
    /// control/esmtp: EHLO, extensions and IPv6 (the default); off is the
    /// classic conversation, HELO over IPv4 only.
    var esmtp: Bool
    /// control/outgoingip, control/outgoingip6: where connections come from.
    var outgoingIPv4: IPAddress?
    var outgoingIPv6: IPAddress?
    var addressPreference: AddressPreference
    /// control/tlspolicy with the qmail TLS patch's tlshosts/ and notlshosts/.
    var tlsPolicy: TLSPolicy
    /// control/clientcert.pem: certificate and key shown when a server asks.
    var clientCertificate: String?
    /// control/tlsclientciphers: OpenSSL's cipher list for TLS 1.2 and older.
    var tlsCiphers: String?
    var routes: SMTPRoutes
    /// Seconds to wait for a connection (control/timeoutconnect).
    var timeoutConnect: Int
    /// Seconds to wait for each read and write (control/timeoutremote).
    var timeoutRemote: Int
    /// The connect-timeout table, when there is one.
    var connectTimeouts: ConnectTimeoutTable?
    /// The name servers to ask; nil for the system's.
    var dnsServers: [DNSServer]?
    /// control/dkimdomains: nil when there is none (nothing is signed).
    var dkimDomains: DKIMDomains?
    /// control/mtasts: MTA-STS for MX deliveries (RFC 8461).
    var mtasts: Bool
    /// control/mtastscafile: the CAs MTA-STS trusts (policy fetches and MX
    /// certificates under a policy); nil: the system's store.
    var mtastsCAFile: String?
    /// Where fetched MTA-STS policies are kept ($QMAILHOME/queue/lock/mtasts).
    var mtastsCache: MTASTSCache

    init(
        helohost: [UInt8], esmtp: Bool = true, routes: SMTPRoutes = SMTPRoutes(), timeoutConnect: Int = 60,
        timeoutRemote: Int = 1200, connectTimeouts: ConnectTimeoutTable? = nil,
        dnsServers: [DNSServer]? = nil, outgoingIPv4: IPAddress? = nil, outgoingIPv6: IPAddress? = nil,
        addressPreference: AddressPreference = .any, tlsPolicy: TLSPolicy = TLSPolicy(),
        clientCertificate: String? = nil, tlsCiphers: String? = nil, dkimDomains: DKIMDomains? = nil,
        mtasts: Bool = false, mtastsCAFile: String? = nil,
        mtastsCache: MTASTSCache = MTASTSCache(directory: "/var/qmail/queue/lock/mtasts")
    ) {
        self.mtasts = mtasts
        self.mtastsCAFile = mtastsCAFile
        self.mtastsCache = mtastsCache
        self.tlsPolicy = tlsPolicy
        self.clientCertificate = clientCertificate
        self.tlsCiphers = tlsCiphers
        self.helohost = helohost
        self.esmtp = esmtp
        self.outgoingIPv4 = outgoingIPv4
        self.outgoingIPv6 = outgoingIPv6
        self.addressPreference = addressPreference
        self.routes = routes
        self.timeoutConnect = timeoutConnect
        self.timeoutRemote = timeoutRemote
        self.connectTimeouts = connectTimeouts
        self.dnsServers = dnsServers
        self.dkimDomains = dkimDomains
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
            case .badDNSSetting(let value):
                return "QMAILREMOTE_DNS=\(value) is not IP[:PORT][,IP[:PORT]...] (at most \(DNSServerList.maximum))"
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
            if ASCII.containsControl(helohost) {
                throw ControlError(file: control + "/helohost", reason: "contains a control character")
            }
            let mtasts = try ControlFile.number(at: control + "/mtasts", fallback: 0) != 0
            var routes = SMTPRoutes()
            if let lines = try ControlFile.lines(at: control + "/smtproutes") {
                routes = try SMTPRoutes(lines: lines, file: control + "/smtproutes")
            }
            return Configuration(
                helohost: helohost,
                esmtp: try ControlFile.number(at: control + "/esmtp", fallback: 1) != 0,
                routes: routes,
                timeoutConnect: try ControlFile.number(at: control + "/timeoutconnect", fallback: 60),
                timeoutRemote: try ControlFile.number(at: control + "/timeoutremote", fallback: 1200),
                connectTimeouts: ConnectTimeoutTable(path: home + "/queue/lock/tcpto"),
                dnsServers: dnsServers,
                outgoingIPv4: try address(at: control + "/outgoingip", .v4),
                outgoingIPv6: try address(at: control + "/outgoingip6", .v6),
                addressPreference: try preference(at: control + "/addresspreference"),
                tlsPolicy: try TLSPolicy(
                    lines: try ControlFile.lines(at: control + "/tlspolicy") ?? [],
                    controlDirectory: control,
                    tlsHosts: try ControlFile.entries(in: control + "/tlshosts") ?? [],
                    noTLSHosts: try ControlFile.entries(in: control + "/notlshosts") ?? [],
                    file: control + "/tlspolicy"),
                clientCertificate: ControlFile.exists(at: control + "/clientcert.pem")
                    ? control + "/clientcert.pem" : nil,
                tlsCiphers: try ControlFile.firstLine(at: control + "/tlsclientciphers").flatMap {
                    $0.isEmpty ? nil : String(decoding: $0, as: UTF8.self)
                },
                dkimDomains: try DKIMDomains.load(
                    controlDirectory: control, spoolDirectory: environment.temporaryDirectory),
                mtasts: mtasts,
                mtastsCAFile: mtasts && ControlFile.exists(at: control + "/mtastscafile")
                    ? control + "/mtastscafile" : nil,
                mtastsCache: MTASTSCache(directory: home + "/queue/lock/mtasts"))
        } catch {
            throw .control(error)
        }
    }

    /// An address file: missing or empty means none; anything but one
    /// address of the family is an error.
    private static func address(at path: String, _ family: IPAddress.Family) throws(ControlError) -> IPAddress? {
        guard let line = try ControlFile.firstLine(at: path), !line.isEmpty else { return nil }
        guard let address = IPAddress(literal: line, ipv6: true), address.family == family else {
            throw ControlError(file: path, reason: "not an \(family == .v4 ? "IPv4" : "IPv6") address")
        }
        return address
    }

    private static func preference(at path: String) throws(ControlError) -> AddressPreference {
        guard let line = try ControlFile.firstLine(at: path), !line.isEmpty else { return .any }
        guard
            let preference = AddressPreference(
                rawValue: String(decoding: ASCII.lowercased(line), as: UTF8.self))
        else {
            throw ControlError(file: path, reason: "not ipv4, ipv6 or any")
        }
        return preference
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
