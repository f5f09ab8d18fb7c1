// Which host texts may be delivered to: a domain name (letters, digits, '-'
// and '_' in labels of 1-63 bytes, 253 bytes at most, one trailing dot
// allowed, not all-numeric at the end), a dotted IPv4 address, [IPv4], and in
// ESMTP mode an IPv6 literal ([IPv6:...] or bare).

import QmailSupport

public enum HostName {
    static func isDomainName(_ text: [UInt8]) -> Bool {
        var name = text[...]
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }
        guard !name.isEmpty, name.count <= 253 else { return false }
        let labels = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.count) else { return false }
            for byte in label {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    continue
                default:
                    return false
                }
            }
        }
        return !labels.last!.allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    /// A host qmail-remote may be asked to deliver to; IPv6 literals
    /// (`[IPv6:...]`, bare) only when `ipv6` (the ESMTP mode).
    public static func isDeliverable(_ text: [UInt8], ipv6: Bool = false) -> Bool {
        IPAddress(literal: text, ipv6: ipv6) != nil || isDomainName(text)
    }
}
