// The MIME tree of a composed message and how each node is written: its
// Content-* fields, a blank line, then its body. Bodies end without a line
// break of their own: the next boundary's CRLF ends them, and the message's
// last line break is added by whoever writes the top part.

indirect enum BodyPart {
    enum Multipart {
        case mixed, alternative, related

        private static let words = [
            Array("multipart/mixed;".utf8), Array("multipart/alternative;".utf8),
            Array("multipart/related; type=\"text/html\";".utf8),
        ]

        /// The field's start; related names its root's type (RFC 2387).
        var typeWord: [UInt8] {
            switch self {
            case .mixed: return Self.words[0]
            case .alternative: return Self.words[1]
            case .related: return Self.words[2]
            }
        }
    }

    case text(TextBody, isHTML: Bool)
    case attachment(PreparedAttachment)
    case multipart(Multipart, boundary: [UInt8], parts: [BodyPart])

    private static let boundaryName = Array("boundary".utf8)

    func writeHeaders(into out: inout MessageAssembly) {
        switch self {
        case .text(let body, let isHTML):
            out.append(
                isHTML ? "Content-Type: text/html; charset=utf-8\r\n" : "Content-Type: text/plain; charset=utf-8\r\n")
            out.append(
                body.encoding == .sevenBit
                    ? "Content-Transfer-Encoding: 7bit\r\n" : "Content-Transfer-Encoding: quoted-printable\r\n")
        case .attachment(let attachment):
            attachment.writeHeaders(into: &out)
        case .multipart(let kind, let boundary, _):
            _ = out.writeField("Content-Type") { writer in
                writer.append(kind.typeWord, after: HeaderWriter.space)
                Parameter.write(name: Self.boundaryName, value: boundary, isLast: true, quoted: true, into: &writer)
            }
        }
    }

    func writeBody(into out: inout MessageAssembly) {
        switch self {
        case .text(let body, _):
            out.append(body)
        case .attachment(let attachment):
            out.appendBase64(of: attachment.content)
        case .multipart(_, let boundary, let parts):
            for (index, part) in parts.enumerated() {
                out.append(index == 0 ? "--" : "\r\n--")
                out.append(boundary)
                out.append("\r\n")
                part.writeHeaders(into: &out)
                out.append("\r\n")
                part.writeBody(into: &out)
            }
            out.append("\r\n--")
            out.append(boundary)
            out.append("--")
        }
    }
}
