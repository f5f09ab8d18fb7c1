// When to use TLS and how hard to check it, per destination: control/tlspolicy
// ("domain:level[:cafile]", matched like smtproutes), then the qmail TLS
// patch's files for the server's name (control/tlshosts/<name>.pem: verify
// against that CA; control/notlshosts/<name>: never), else "may". The
// patch's directories are listed and compared, never opened by a name that
// came from DNS. DANE's levels (dane, dane-only) and MTA-STS are weighed by
// TLSPlanner; what one connection then does is its TLSPlan.

import QmailSupport

enum TLSLevel: String, Sendable, Equatable {
    /// Never STARTTLS.
    case none
    /// STARTTLS when offered; when the handshake fails, once more in plain text.
    case may
    /// TLS required, the certificate not checked.
    case encrypt
    /// TLS required, the chain and the name checked.
    case verify
    /// Opportunistic DANE (RFC 7672): where usable TLSA records are, TLS is
    /// required and the certificate must match one; elsewhere as `may`. In a
    /// TLSPlan: TLS required, the certificate matched against its records.
    case dane
    /// DANE or nothing: without usable TLSA records no delivery. Never in a plan.
    case daneOnly = "dane-only"

    /// In a plan: TLS must be in place before anything of the message goes out.
    var isRequired: Bool { self == .encrypt || self == .verify || self == .dane || self == .daneOnly }

    /// A DANE level of tlspolicy (TLSA records are looked up).
    var isDANE: Bool { self == .dane || self == .daneOnly }
}

struct TLSRequirement: Sendable, Equatable {
    var level: TLSLevel
    /// Trusted CAs for `verify`; nil: the system's store.
    var caFile: String?
    /// Said by the installation (a tlspolicy line, tlshosts/, notlshosts/),
    /// not the default `may`.
    var explicit: Bool

    init(level: TLSLevel, caFile: String? = nil, explicit: Bool = true) {
        self.level = level
        self.caFile = caFile
        self.explicit = explicit
    }
}

struct TLSPolicy: Sendable, Equatable {
    private var table = HostTable<TLSRequirement>()
    /// Names (lowercased) with control/tlshosts/<name>.pem, to that entry's file name.
    private var tlsHosts: [[UInt8]: String] = [:]
    /// Names (lowercased) with control/notlshosts/<name>.
    private var noTLSHosts: Set<[UInt8]> = []
    private var controlDirectory = ""

    init() {}

    /// Parses tlspolicy lines; a CA file not starting with "/" is in the
    /// control directory. A bad line is an error, as a broken route is.
    /// `tlsHosts` and `noTLSHosts` are the entries of those directories.
    init(
        lines: [[UInt8]], controlDirectory: String, tlsHosts: [[UInt8]] = [], noTLSHosts: [[UInt8]] = [],
        file: String = "tlspolicy"
    ) throws(ControlError) {
        self.controlDirectory = controlDirectory
        for entry in tlsHosts where entry.count > 4 && entry.suffix(4).elementsEqual(".pem".utf8) {
            self.tlsHosts[ASCII.lowercased(Array(entry.dropLast(4)))] = String(decoding: entry, as: UTF8.self)
        }
        self.noTLSHosts = Set(noTLSHosts.map(ASCII.lowercased))
        for (number, line) in lines.enumerated() {
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            let fields = line.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2,
                let level = TLSLevel(rawValue: String(decoding: ASCII.lowercased(Array(fields[1])), as: UTF8.self))
            else {
                throw ControlError(
                    file: file,
                    reason: "line \(number + 1): give domain:none|may|encrypt|verify|dane|dane-only[:cafile]")
            }
            var caFile: String?
            if fields.count == 3, !fields[2].isEmpty {
                let path = String(decoding: fields[2], as: UTF8.self)
                caFile = path.hasPrefix("/") ? path : controlDirectory + "/" + path
            }
            table.set(Array(fields[0]), TLSRequirement(level: level, caFile: caFile))
        }
    }

    /// What applies to a delivery to `host` through the server called `serverName`.
    func requirement(host: [UInt8], serverName: [UInt8]) -> TLSRequirement {
        if let explicit = table.lookup(host) { return explicit }
        let name = ASCII.lowercased(serverName)
        if let entry = tlsHosts[name] {
            // The path is the directory's own entry, not the name from DNS.
            return TLSRequirement(level: .verify, caFile: controlDirectory + "/tlshosts/" + entry)
        }
        if noTLSHosts.contains(name) { return TLSRequirement(level: .none) }
        return TLSRequirement(level: .may, explicit: false)
    }

    /// The tlspolicy line for a delivery to `host`, if one matches (the
    /// domain's level, before any server is known).
    func line(for host: [UInt8]) -> TLSRequirement? { table.lookup(host) }
}
