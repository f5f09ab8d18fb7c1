// The request-target, read by us rather than by libmicrohttpd (which cuts a
// path at a decoded NUL): visible ASCII only, the path percent-decoded with no
// control byte in it, the query as key/value pairs ('+' is a space, %XX a
// byte), values kept as bytes.

import QmailSupport

public enum RequestTarget {
    public static func parse(
        _ target: [UInt8]
    ) throws(APIError) -> (path: String, query: [(key: String, value: [UInt8])]) {
        if target.contains(where: { $0 < 0x21 || $0 > 0x7E || $0 == UInt8(ascii: "#") }) {
            throw .invalidTarget("the request target contains a space, control byte, # or byte that is not ASCII")
        }
        let question = target.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = target[..<(question ?? target.endIndex)]
        guard let path = decode(rawPath, plusIsSpace: false) else {
            throw .invalidTarget("the request path has a % that is not followed by two hex digits")
        }
        if path.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw .invalidTarget("the request path contains an encoded NUL or other control byte")
        }
        var query: [(key: String, value: [UInt8])] = []
        if let question {
            for piece in target[(question + 1)...].split(separator: UInt8(ascii: "&")) {
                let equals = piece.firstIndex(of: UInt8(ascii: "="))
                guard let key = decode(piece[..<(equals ?? piece.endIndex)], plusIsSpace: true),
                    let value = equals.map({ decode(piece[($0 + 1)...], plusIsSpace: true) }) ?? []
                else {
                    throw .invalidTarget("the query has a % that is not followed by two hex digits")
                }
                query.append((String(decoding: key, as: UTF8.self), value))
            }
        }
        return (String(decoding: path, as: UTF8.self), query)
    }

    /// Percent-decoding; nil for a % without two hex digits.
    static func decode(_ text: ArraySlice<UInt8>, plusIsSpace: Bool) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < text.endIndex, let high = hex(text[index + 1]), let low = hex(text[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? 32 : byte)
                index += 1
            }
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - 55
        default: return nil
        }
    }
}
