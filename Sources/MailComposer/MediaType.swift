// An attachment's content_type checked (RFC 2045 5.1): type "/" subtype and
// parameters whose values are tokens or quoted-strings, written back in one
// canonical form. Multipart and message types are refused: an attachment is
// always base64, which RFC 2045 6.4 forbids for them.

struct MediaType {
    let type: [UInt8]
    let subtype: [UInt8]
    let parameters: [(name: [UInt8], value: [UInt8])]

    static let octetStream = MediaType(
        type: Array("application".utf8), subtype: Array("octet-stream".utf8), parameters: [])

    /// RFC 2045 token characters: printable ASCII but tspecials.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""),
            UInt8(ascii: "/"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return false
        default:
            return byte > 32 && byte < 127
        }
    }

    /// The media type, or why `text` cannot be an attachment's.
    static func parse(_ text: String) -> Result<MediaType, MediaTypeProblem> {
        let bytes = Array(text.utf8)
        var index = 0
        func skipSpace() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 9 { index += 1 } }
        func token() -> [UInt8] {
            let start = index
            while index < bytes.count, isTokenCharacter(bytes[index]) { index += 1 }
            return Array(bytes[start..<index])
        }
        func lowered(_ token: [UInt8]) -> [UInt8] { token.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 } }
        skipSpace()
        let type = lowered(token())
        guard !type.isEmpty, index < bytes.count, bytes[index] == UInt8(ascii: "/") else {
            return .failure(.syntax)
        }
        index += 1
        let subtype = lowered(token())
        if subtype.isEmpty { return .failure(.syntax) }
        if type.elementsEqual("multipart".utf8) || type.elementsEqual("message".utf8) { return .failure(.composite) }
        var parameters: [(name: [UInt8], value: [UInt8])] = []
        while true {
            skipSpace()
            if index == bytes.count { break }
            guard bytes[index] == UInt8(ascii: ";") else { return .failure(.syntax) }
            index += 1
            skipSpace()
            if index == bytes.count { break }
            let name = lowered(token())
            guard !name.isEmpty, index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                return .failure(.syntax)
            }
            index += 1
            let value: [UInt8]
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                guard let close = QuotedString.closingQuote(in: bytes[index...]),
                    let content = QuotedString.content(bytes[(index + 1)..<close])
                else {
                    return .failure(.syntax)
                }
                value = content
                index = close + 1
            } else {
                value = token()
                if value.isEmpty { return .failure(.syntax) }
            }
            if name.elementsEqual("name".utf8) || name.last == UInt8(ascii: "*") { return .failure(.reservedParameter) }
            if parameters.contains(where: { $0.name == name }) { return .failure(.syntax) }
            parameters.append((name, value))
        }
        return .success(MediaType(type: type, subtype: subtype, parameters: parameters))
    }
}

enum MediaTypeProblem: Error {
    case syntax, composite, reservedParameter

    var phrase: String {
        switch self {
        case .syntax: return "is not a media type (type/subtype, then ; name=value parameters)"
        case .composite: return "is a multipart or message type, which an attachment cannot have"
        case .reservedParameter: return "has a name parameter or an RFC 2231 one; the file name comes from filename"
        }
    }
}
