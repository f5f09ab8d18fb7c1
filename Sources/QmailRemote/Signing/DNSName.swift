// The names DKIM puts in a signature and in key paths: selectors and signing
// domains (RFC 6376 3.1 and 3.5: letters, digits and inner hyphens in labels
// of 1-63 bytes). Stricter than HostName, which also takes what qmail takes.

enum DNSName {
    /// Dot-separated labels of letters, digits and inner hyphens; 253 bytes at most.
    static func isName(_ text: some Collection<UInt8>) -> Bool {
        let text = Array(text)
        guard !text.isEmpty, text.count <= 253 else { return false }
        for label in text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard (1...63).contains(label.count), label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-")
            else { return false }
            for byte in label {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                    continue
                default:
                    return false
                }
            }
        }
        return true
    }

    /// A name that may be a d= domain: two labels or more, the last not all digits.
    static func isSigningDomain(_ text: some Collection<UInt8>) -> Bool {
        guard isName(text) else { return false }
        let labels = text.split(separator: UInt8(ascii: "."))
        return labels.count >= 2 && !labels.last!.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}
