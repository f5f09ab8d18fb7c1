// control/dkimdomains: which messages are signed, as which domain (d=), with
// which selectors. One line per signing domain, "domain:selector[,selector2][|sdid]",
// matched like smtproutes keys. The key files' paths come from what the
// operator wrote here, as written, never from the message. The keys it names
// are read once per load (SigningKeys). Not here: reading a key (SigningKey)
// or signing (MessageSigning).

import QmailSupport

public struct DKIMDomains: Sendable {
    struct Entry: Sendable, Equatable {
        /// The key as written: "", "example.com" or ".example.com" (matched ignoring case).
        let key: [UInt8]
        let selectors: [[UInt8]]
        /// The d= domain written after "|", if any.
        let sdid: [UInt8]?
        /// The line in control/dkimdomains (from 1), for diagnostics.
        let line: Int
    }

    /// What signing one message takes: the d= domain, one key file per
    /// selector, and the line that said so.
    struct Plan: Sendable, Equatable {
        struct Key: Sendable, Equatable {
            let selector: [UInt8]
            let path: String
        }

        let domain: [UInt8]
        let keys: [Key]
        let line: Int
    }

    /// The directory of an empty key without "|sdid": its domain comes from the
    /// message, its keys do not. Never a signing domain (those have two labels).
    static let defaultKeyDirectory = "default"

    private let table: HostTable<Entry>
    /// control/dkimdomains, as named in diagnostics.
    let file: String
    /// control/dkimkeys: the keys are <sdid>/<selector> below it.
    let keyDirectory: String
    /// Where a message read from a pipe is spooled so it can be read twice.
    let spoolDirectory: String
    /// The keys named here, read on first use and kept while this load is in use.
    let keys = SigningKeys()

    var isEmpty: Bool { table.isEmpty }

    /// Parses the file's lines. Blank lines and '#' lines are skipped; any
    /// other line that does not parse is an error: the mail waits until it is
    /// fixed, as for a broken smtproutes line. A later line for the same key wins.
    init(
        lines: [[UInt8]], file: String = "dkimdomains", keyDirectory: String = "dkimkeys",
        spoolDirectory: String = "/tmp"
    ) throws(ControlError) {
        self.file = file
        self.keyDirectory = keyDirectory
        self.spoolDirectory = spoolDirectory
        var table = HostTable<Entry>()
        for (index, line) in lines.enumerated() {
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            let entry = try Self.entry(line, number: index + 1, file: file)
            table.set(entry.key, entry)
        }
        self.table = table
    }

    /// control/dkimdomains and control/dkimkeys in `controlDirectory`; nil
    /// when the file is missing or has no entries (nothing is signed).
    static func load(controlDirectory: String, spoolDirectory: String) throws(ControlError) -> DKIMDomains? {
        let file = controlDirectory + "/dkimdomains"
        guard let lines = try ControlFile.lines(at: file) else { return nil }
        let domains = try DKIMDomains(
            lines: lines, file: file, keyDirectory: controlDirectory + "/dkimkeys", spoolDirectory: spoolDirectory)
        return domains.isEmpty ? nil : domains
    }

    private static func entry(_ line: [UInt8], number: Int, file: String) throws(ControlError) -> Entry {
        func bad(_ why: String) -> ControlError { ControlError(file: file, reason: "line \(number): \(why)") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw bad("no colon (domain:selector[,selector2][|sdid])")
        }
        let key = Array(line[..<colon])
        var rest = line[(colon + 1)...]
        var sdid: [UInt8]?
        if let bar = rest.firstIndex(of: UInt8(ascii: "|")) {
            let written = Array(rest[(bar + 1)...])
            guard DNSName.isSigningDomain(written) else {
                throw bad("the signing domain after | is not a domain name of two labels or more")
            }
            sdid = written
            rest = rest[..<bar]
        }
        let name = key.first == UInt8(ascii: ".") ? Array(key.dropFirst()) : key
        guard key.isEmpty || DNSName.isName(name) else {
            throw bad("\(printable(key)) is not a domain, a .suffix or empty")
        }
        if sdid == nil && !key.isEmpty && !DNSName.isSigningDomain(name) {
            throw bad("\(printable(name)) has one label; give the signing domain after |")
        }
        let selectors = rest.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map { Array($0) }
        guard !(selectors.count == 1 && selectors[0].isEmpty) else { throw bad("no selector") }
        guard selectors.count <= 2 else { throw bad("more than two selectors") }
        for selector in selectors where !DNSName.isName(selector) {
            throw bad("selector \(printable(selector)) is not letters, digits and hyphens in dot-separated labels")
        }
        if selectors.count == 2 && ASCII.lowercased(selectors[0]) == ASCII.lowercased(selectors[1]) {
            throw bad("the same selector twice")
        }
        return Entry(key: key, selectors: selectors, sdid: sdid, line: number)
    }

    /// The plan for a message whose From: domain and envelope sender domain
    /// are given (either may be nil): a key naming the From: domain exactly or
    /// as a .suffix, then one naming the sender domain, then the empty key
    /// with the From: domain (else the sender's). nil: not signed.
    func plan(fromDomain: [UInt8]?, senderDomain: [UInt8]?) -> Plan? {
        let candidates = [fromDomain, senderDomain].compactMap { $0.map(ASCII.lowercased) }.filter(
            DNSName.isSigningDomain)
        for domain in candidates {
            if let entry = table.specific(domain) { return plan(entry, matched: domain) }
        }
        guard let entry = table.fallback, let domain = candidates.first else { return nil }
        return plan(entry, matched: domain)
    }

    private func plan(_ entry: Entry, matched: [UInt8]) -> Plan {
        // The key directory is named from the file's text only.
        let written: [UInt8]? =
            entry.sdid ?? (entry.key.isEmpty ? nil : Array(entry.key.drop { $0 == UInt8(ascii: ".") }))
        let directory = written.map { String(decoding: $0, as: UTF8.self) } ?? Self.defaultKeyDirectory
        let domain = written ?? matched
        return Plan(
            domain: domain,
            keys: entry.selectors.map {
                Plan.Key(
                    selector: $0, path: keyDirectory + "/" + directory + "/" + String(decoding: $0, as: UTF8.self))
            },
            line: entry.line)
    }

    private static func printable(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.map { $0 < 33 || $0 > 126 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
