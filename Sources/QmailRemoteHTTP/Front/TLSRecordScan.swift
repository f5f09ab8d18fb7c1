// What the first bytes on an HTTPS connection are, read before anyone takes
// them: a TLS handshake record (RFC 8446 section 5.1: type 22, version 3.x,
// a length of at most 2^14 + 256), complete or not yet; a plain HTTP request
// (a method's letters); or neither.

enum TLSRecordScan: Equatable {
    case incomplete
    /// The first record is all there: the library may do the handshake.
    case complete
    /// Plain HTTP sent to the HTTPS port.
    case plainHTTP
    case notTLS

    static let maxRecord = 16_384 + 256

    static func scan(_ bytes: ArraySlice<UInt8>) -> TLSRecordScan {
        guard let first = bytes.first else { return .incomplete }
        if (first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z")) || first == 13 || first == 10 {
            return .plainHTTP
        }
        guard first == 22 else { return .notTLS }
        let start = bytes.startIndex
        if bytes.count >= 2 && bytes[start + 1] != 3 { return .notTLS }
        guard bytes.count >= 5 else { return .incomplete }
        let length = Int(bytes[start + 3]) << 8 | Int(bytes[start + 4])
        if length == 0 || length > maxRecord { return .notTLS }
        return bytes.count >= 5 + length ? .complete : .incomplete
    }
}
