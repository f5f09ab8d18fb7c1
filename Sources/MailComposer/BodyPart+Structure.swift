// Which MIME tree a composition gets: text/plain or text/html alone;
// alternative for both; related for the HTML and its inline parts (those
// with a content_id, when there is HTML); mixed for attachments, outermost.

extension BodyPart {
    /// Boundaries are made from the message's random `token`.
    static func structure(of composition: Composition, token: [UInt8]) throws(CompositionError) -> BodyPart {
        guard composition.textBody != nil || composition.htmlBody != nil else {
            throw CompositionError(.missingField, "give text or html, or both")
        }
        var inline: [BodyPart] = []
        var attached: [BodyPart] = []
        var contentIDs: Set<[UInt8]> = []
        for (index, attachment) in composition.attachments.enumerated() {
            let isInline = attachment.contentID != nil && composition.htmlBody != nil
            let prepared = try PreparedAttachment(
                attachment, label: FieldLabel("attachment", index + 1), isInline: isInline)
            if let id = prepared.contentID, !contentIDs.insert(id).inserted {
                throw CompositionError(.invalidField, "attachment \(index + 1) repeats the content_id of another")
            }
            if isInline { inline.append(.attachment(prepared)) } else { attached.append(.attachment(prepared)) }
        }
        var boundaries = 0
        func multipart(_ kind: Multipart, _ parts: [BodyPart]) -> BodyPart {
            boundaries += 1
            return .multipart(kind, boundary: RandomText.boundary(token: token, number: boundaries), parts: parts)
        }

        // Only a lone text part ends the message itself.
        let alone =
            attached.isEmpty && inline.isEmpty && (composition.textBody == nil || composition.htmlBody == nil)
        func textPart(_ content: PartContent?, isHTML: Bool) throws(CompositionError) -> BodyPart? {
            guard let content else { return nil }
            guard let body = TextBody(content, endsMessage: alone) else { throw .unreadable(isHTML ? "html" : "text") }
            return .text(body, isHTML: isHTML)
        }
        var html = try textPart(composition.htmlBody, isHTML: true)
        if let root = html, !inline.isEmpty { html = multipart(.related, [root] + inline) }
        let text = try textPart(composition.textBody, isHTML: false)
        let core: BodyPart
        if let text, let html {
            core = multipart(.alternative, [text, html])
        } else {
            core = (text ?? html)!
        }
        return attached.isEmpty ? core : multipart(.mixed, [core] + attached)
    }
}
