// An attachment once checked: its media type parsed, its file name and
// content id known writable, and whether it is shown inline (an image the
// HTML refers to by cid:) or as an attachment. Writes its Content-* fields.

struct PreparedAttachment {
    let mediaType: MediaType
    let filename: [UInt8]
    let content: PartContent
    let contentID: [UInt8]?
    let isInline: Bool

    /// Checks `attachment`; `label` names it in errors ("attachment 2").
    init(_ attachment: AttachmentField, label: FieldLabel, isInline: Bool) throws(CompositionError) {
        if let problem = FieldText.problem(in: attachment.filename, allowTab: false) {
            throw CompositionError(.invalidField, "\(label) filename \(problem)")
        }
        let filename = FieldText.trimmed(Array(attachment.filename.utf8)[...])
        if filename.isEmpty { throw CompositionError(.invalidField, "\(label) has an empty filename") }
        if let contentType = attachment.contentType {
            if let problem = FieldText.problem(in: contentType, allowTab: false) {
                throw CompositionError(.invalidField, "\(label) content_type \(problem)")
            }
            switch MediaType.parse(contentType) {
            case .success(let type): mediaType = type
            case .failure(let problem):
                throw CompositionError(.invalidField, "\(label) content_type \(problem.phrase)")
            }
        } else {
            mediaType = .octetStream
        }
        if let id = attachment.contentID {
            if let problem = FieldText.problem(in: id, allowTab: false) {
                throw CompositionError(.invalidField, "\(label) content_id \(problem)")
            }
            let bytes = Array(id.utf8)
            guard !bytes.isEmpty, bytes.count <= 250, bytes.allSatisfy(Self.isContentIDCharacter) else {
                throw CompositionError(
                    .invalidField,
                    "\(label) content_id must be 1 to 250 printable ASCII characters without spaces, "
                        + "quotes, brackets, commas, colons or semicolons")
            }
            contentID = bytes
        } else {
            contentID = nil
        }
        self.filename = Array(filename)
        content = attachment.body
        self.isInline = isInline
    }

    /// What a msg-id (and so a cid: URL) may hold without quoting.
    private static func isContentIDCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["),
            UInt8(ascii: "]"), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: ":"):
            return false
        default:
            return byte > 32 && byte < 127
        }
    }

    private static let nameParameter = Array("name".utf8)
    private static let filenameParameter = Array("filename".utf8)
    private static let inline = Array("inline;".utf8)
    private static let attachment = Array("attachment;".utf8)

    func writeHeaders(into out: inout MessageAssembly) {
        // Parameters never pass 998 octets: they fold into sections.
        _ = out.writeField("Content-Type") { writer in
            writer.append(
                mediaType.type + [UInt8(ascii: "/")] + mediaType.subtype + [UInt8(ascii: ";")],
                after: HeaderWriter.space)
            for parameter in mediaType.parameters {
                Parameter.write(name: parameter.name, value: parameter.value, isLast: false, into: &writer)
            }
            Parameter.write(name: Self.nameParameter, value: filename, isLast: true, quoted: true, into: &writer)
        }
        _ = out.writeField("Content-Disposition") { writer in
            writer.append(isInline ? Self.inline : Self.attachment, after: HeaderWriter.space)
            Parameter.write(name: Self.filenameParameter, value: filename, isLast: true, quoted: true, into: &writer)
        }
        out.append("Content-Transfer-Encoding: base64\r\n")
        if let contentID {
            out.append("Content-ID: <")
            out.append(contentID)
            out.append(">\r\n")
        }
    }
}
