// A TLSA record (RFC 6698) and what SMTP may use of it (RFC 7672 section
// 3.1): DANE-TA(2) and DANE-EE(3), selectors 0 (the certificate) and 1 (its
// public key), matching 0 (exact), 1 (SHA-256) and 2 (SHA-512). PKIX-TA(0)
// and PKIX-EE(1) are unusable for SMTP. Matching a certificate is OpenSSL's
// job (CTLS); this is the record as data.

import QmailSupport

public struct TLSARecord: Sendable, Hashable {
    public let usage: UInt8
    public let selector: UInt8
    public let matchingType: UInt8
    public let data: [UInt8]

    public init(usage: UInt8, selector: UInt8, matchingType: UInt8, data: [UInt8]) {
        self.usage = usage
        self.selector = selector
        self.matchingType = matchingType
        self.data = data
    }

    /// Whether SMTP's DANE may authenticate a server with this record.
    public var isUsable: Bool {
        guard usage == 2 || usage == 3, selector <= 1 else { return false }
        switch matchingType {
        case 0: return !data.isEmpty
        case 1: return data.count == 32
        case 2: return data.count == 64
        default: return false
        }
    }

    /// The record as a zone file shows its data: "3 1 1 0a1b...".
    public var presentation: String { "\(usage) \(selector) \(matchingType) " + Hex.text(data) }
}
