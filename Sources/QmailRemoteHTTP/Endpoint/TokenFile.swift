// The token file: one entry a line, `#` comments and blank lines skipped.
//   TOKEN | sha256:HEX | subject:"CN=app,O=Example"  [name=NAME]
//     [senders=@example.org,.example.net,app@x.org,<>] [hosts=example.com,.example.net]
//     [rate=600/min] [burst=N] [recipients=N]
// A value with spaces goes in double quotes. Anything it cannot read, and a
// file without an entry, is an error naming the line: the gateway does not
// start on a token file it does not understand.

import QmailSupport

public enum TokenFile {
    public struct Problem: Error, CustomStringConvertible {
        public let line: Int?
        public let reason: String
        public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
    }

    /// The entries of the file's lines; names default to `line<N>`.
    public static func parse(_ lines: [[UInt8]]) throws(Problem) -> [TokenPolicy] {
        var entries: [TokenPolicy] = []
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            let fields: [String]
            do { fields = try split(raw) } catch { throw Problem(line: number, reason: error.reason) }
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            let entry: TokenPolicy
            do { entry = try parseEntry(first, fields.dropFirst(), defaultName: "line\(number)") } catch {
                throw Problem(line: number, reason: error.reason)
            }
            if let other = entries.firstIndex(where: { $0.name == entry.name }) {
                throw Problem(line: number, reason: "the name \(entry.name) is used twice (also entry \(other + 1))")
            }
            if entries.contains(where: { $0.credential == entry.credential }) {
                throw Problem(line: number, reason: "the same token or subject is given twice")
            }
            entries.append(entry)
        }
        if entries.isEmpty { throw Problem(line: nil, reason: "it holds no token") }
        return entries
    }

    private struct Failure: Error {
        let reason: String
    }

    private static func parseEntry(
        _ credentialText: String, _ attributes: ArraySlice<String>, defaultName: String
    ) throws(Failure) -> TokenPolicy {
        let credential: TokenPolicy.Credential
        if credentialText.hasPrefix("sha256:") {
            let hex = Array(credentialText.utf8.dropFirst(7))
            guard hex.count == 64, let digest = Self.hex(hex) else {
                throw Failure(reason: "sha256: must be followed by 64 hex digits")
            }
            credential = .tokenHash(digest)
        } else if credentialText.hasPrefix("subject:") {
            let subject = String(credentialText.dropFirst(8))
            guard !subject.isEmpty else { throw Failure(reason: "subject: must be followed by a subject") }
            credential = .certificateSubject(subject)
        } else {
            if credentialText.contains("=") && credentialText.split(separator: "=").first.map(Self.isAttribute) == true
            {
                throw Failure(reason: "the line starts with an attribute; give the token first")
            }
            credential = .tokenHash(SHA256.digest(Array(credentialText.utf8)))
        }
        var values: [String: String] = [:]
        for attribute in attributes {
            guard let equals = attribute.firstIndex(of: "="), Self.isAttribute(attribute[..<equals]) else {
                throw Failure(
                    reason:
                        "\(attribute.prefix(40)) is not an attribute (name, senders, hosts, rate, burst, recipients)")
            }
            let key = String(attribute[..<equals])
            if values[key] != nil { throw Failure(reason: "\(key)= is given twice") }
            values[key] = String(attribute[attribute.index(after: equals)...])
        }
        let name = values["name"] ?? defaultName
        guard !name.isEmpty, name.utf8.count <= 64,
            name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else {
            throw Failure(reason: "name= must be 1 to 64 visible ASCII characters, without quotes or backslashes")
        }
        var senders: [AddressPattern]?
        if let text = values["senders"] {
            senders = try list(text, "senders") { AddressPattern(sender: $0) }
        }
        var hosts: [AddressPattern]?
        if let text = values["hosts"] {
            hosts = try list(text, "hosts") { AddressPattern(host: $0) }
        }
        let burst = try values["burst"].map { (text: String) throws(Failure) -> Int in try number(text, "burst") }
        var rate: RateLimit?
        if let text = values["rate"] {
            guard let parsed = RateLimit(text, burst: burst) else {
                throw Failure(reason: "rate=\(text.prefix(40)) is not N/s, N/min, N/h or N/day")
            }
            rate = parsed
        } else if burst != nil {
            throw Failure(reason: "burst= needs rate=")
        }
        let recipients = try values["recipients"].map { (text: String) throws(Failure) -> Int in
            try number(text, "recipients")
        }
        return TokenPolicy(
            credential: credential, name: name, senders: senders, hosts: hosts, rate: rate, maxRecipients: recipients)
    }

    private static let attributeNames: Set<String> = ["name", "senders", "hosts", "rate", "burst", "recipients"]

    private static func isAttribute(_ text: some StringProtocol) -> Bool { attributeNames.contains(String(text)) }

    private static func number(_ text: String, _ key: String) throws(Failure) -> Int {
        guard let value = Int(text), value > 0, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw Failure(reason: "\(key)=\(text.prefix(20)) is not a whole number above 0")
        }
        return value
    }

    private static func list(
        _ text: String, _ key: String, _ parse: (String) -> AddressPattern?
    ) throws(Failure) -> [AddressPattern] {
        var patterns: [AddressPattern] = []
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let pattern = parse(String(piece)) else {
                throw Failure(reason: "\(key)= has \"\(piece.prefix(60))\", which is not a pattern it takes")
            }
            patterns.append(pattern)
        }
        return patterns
    }

    /// Fields separated by spaces or tabs; double quotes keep spaces in one.
    private static func split(_ line: [UInt8]) throws(Failure) -> [String] {
        var fields: [String] = []
        var current: [UInt8] = []
        var inQuotes = false
        var started = false
        for byte in line where byte != 13 {
            if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
                started = true
            } else if !inQuotes && (byte == 32 || byte == 9) {
                if started { fields.append(String(decoding: current, as: UTF8.self)) }
                current = []
                started = false
            } else {
                if byte < 32 || byte == 127 { throw Failure(reason: "the line has a control character") }
                current.append(byte)
                started = true
            }
        }
        if inQuotes { throw Failure(reason: "a double quote is not closed") }
        if started { fields.append(String(decoding: current, as: UTF8.self)) }
        return fields
    }

    private static func hex(_ digits: [UInt8]) -> [UInt8]? {
        func value(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 48...57: return byte - 48
            case 97...102: return byte - 87
            case 65...70: return byte - 55
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}
