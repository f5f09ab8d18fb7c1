// What a parser must find in a composed message, worked out from the
// Composition alone (not from the composer's code): the addresses, subject,
// extra fields, the MIME shape, each text exactly and each attachment byte
// for byte; and no defect, no Bcc.

import Foundation
import Testing

@testable import MailComposer

enum RoundTrip {
    static let date = MessageDate(secondsSinceEpoch: 1_739_451_785, utcOffsetSeconds: 3600)

    static func compose(_ composition: Composition, seed: UInt64 = 7) throws -> ComposedMessage {
        var random = SeededGenerator(seed: seed)
        return try Composer(messageIDDomain: "mail.example.org")!.compose(composition, date: date, using: &random)
    }

    /// Composes `composition`, has `parser` read it, and checks everything it found.
    static func check(
        _ composition: Composition, with parser: MIMEParser, sourceLocation: SourceLocation = #_sourceLocation
    )
        throws
    {
        let message = try compose(composition)
        let parsed = try parser.parse(message.bytes)
        let note = Comment(rawValue: parser.rawValue)
        // RFC 6532 allows UTF-8 local parts; Python's default policy predates it and says so.
        let utf8LocalParts = addresses([composition.from] + composition.to + composition.cc + composition.replyTo)
            .contains { $0.local.utf8.contains { $0 > 127 } }
        let defects = parsed.defects.filter { !(utf8LocalParts && $0.contains("NonASCIILocalPartDefect")) }
        #expect(defects == [], note, sourceLocation: sourceLocation)
        #expect(parsed.bcc == nil && parsed.header("Bcc") == nil, note, sourceLocation: sourceLocation)
        #expect(parsed.from == addresses([composition.from]), note, sourceLocation: sourceLocation)
        #expect(
            parsed.to == (composition.to.isEmpty ? nil : addresses(composition.to)), note,
            sourceLocation: sourceLocation)
        #expect(
            parsed.cc == (composition.cc.isEmpty ? nil : addresses(composition.cc)), note,
            sourceLocation: sourceLocation)
        #expect(
            parsed.replyTo == (composition.replyTo.isEmpty ? nil : addresses(composition.replyTo)), note,
            sourceLocation: sourceLocation)
        #expect(parsed.subject == composition.subject.map(trimmed), note, sourceLocation: sourceLocation)
        #expect(parsed.messageID == "<\(message.messageID)>", note, sourceLocation: sourceLocation)
        #expect(parsed.date == String(decoding: date.rendered, as: UTF8.self), note, sourceLocation: sourceLocation)
        #expect(parsed.mimeVersion == "1.0", note, sourceLocation: sourceLocation)
        for field in composition.headers {
            #expect(parsed.header(field.name) == trimmed(field.value), note, sourceLocation: sourceLocation)
        }

        let (shape, leaves) = expectedTree(composition)
        #expect(parsed.tree.shape == shape, note, sourceLocation: sourceLocation)
        let found = parsed.tree.leaves
        #expect(found.count == leaves.count, note, sourceLocation: sourceLocation)
        for (leaf, expected) in zip(found, leaves) {
            switch expected {
            case .text(let text):
                #expect(leaf.params["charset"]?.lowercased() == "utf-8", note, sourceLocation: sourceLocation)
                #expect(leaf.text.map(lineFeeds) == lineFeeds(text), note, sourceLocation: sourceLocation)
            case .attachment(let attachment, let isInline):
                #expect(leaf.filename == trimmed(attachment.filename), note, sourceLocation: sourceLocation)
                #expect(leaf.disposition == (isInline ? "inline" : "attachment"), note, sourceLocation: sourceLocation)
                #expect(leaf.contentID == attachment.contentID.map { "<\($0)>" }, note, sourceLocation: sourceLocation)
                #expect(leaf.cte?.lowercased() == "base64", note, sourceLocation: sourceLocation)
                #expect(leaf.bytes == attachment.content, note, sourceLocation: sourceLocation)
            }
        }
    }

    /// Without the spaces and tabs around it; by scalars, since a space may
    /// begin a grapheme (a space and an emoji modifier are one Character).
    static func trimmed(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    /// Line breaks of any kind as LF: what a text's lines are, however stored.
    /// By scalars: Foundation's search would take a combining mark after LF as part of it.
    static func lineFeeds(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var previousCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = scalar == "\r"
            out.append(previousCR ? "\n" : scalar)
        }
        return String(out)
    }

    /// A display name as a phrase reads: trimmed, runs of spaces one space.
    static func phrase(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in trimmed(text).unicodeScalars where !(scalar == " " && out.last == " ") { out.append(scalar) }
        return String(out)
    }

    static func addresses(_ fields: [AddressField]) -> [ParsedAddress] {
        fields.map { field in
            let (name, address): (String?, String)
            switch field {
            case .parts(let given, let text): (name, address) = (given, text)
            case .text(let text):
                if let open = text.lastIndex(of: "<"), text.hasSuffix(">") {
                    var phrase = trimmed(String(text[..<open]))
                    if phrase.hasPrefix("\"") && phrase.hasSuffix("\"") {
                        phrase = String(phrase.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                    }
                    (name, address) = (
                        phrase, String(text[text.index(after: open)..<text.index(before: text.endIndex)])
                    )
                } else {
                    (name, address) = (nil, text)
                }
            }
            let at = address.lastIndex(of: "@")!
            var local = String(address[..<at])
            if local.hasPrefix("\"") {
                local = String(local.dropFirst().dropLast()).replacingOccurrences(of: "\\", with: "")
            }
            return ParsedAddress(
                name: phrase(name ?? ""), local: local, domain: String(address[address.index(after: at)...]))
        }
    }

    enum Leaf {
        case text(String)
        case attachment(AttachmentField, isInline: Bool)
    }

    /// mixed > alternative > related, each only when needed.
    static func expectedTree(_ composition: Composition) -> (shape: String, leaves: [Leaf]) {
        let hasHTML = composition.html != nil
        let inline = composition.attachments.filter { $0.contentID != nil && hasHTML }
        let attached = composition.attachments.filter { !($0.contentID != nil && hasHTML) }
        func type(_ attachment: AttachmentField) -> String {
            (attachment.contentType ?? "application/octet-stream").split(separator: ";")[0].lowercased()
                .trimmingCharacters(in: .whitespaces)
        }
        var htmlShape = "text/html"
        var htmlLeaves: [Leaf] = composition.html.map { [.text($0)] } ?? []
        if !inline.isEmpty {
            htmlShape = "multipart/related(text/html," + inline.map(type).joined(separator: ",") + ")"
            htmlLeaves += inline.map { .attachment($0, isInline: true) }
        }
        var shape: String
        var leaves: [Leaf]
        switch (composition.text, composition.html) {
        case (let text?, _?):
            shape = "multipart/alternative(text/plain,\(htmlShape))"
            leaves = [.text(text)] + htmlLeaves
        case (let text?, nil):
            shape = "text/plain"
            leaves = [.text(text)]
        default:
            shape = htmlShape
            leaves = htmlLeaves
        }
        if !attached.isEmpty {
            shape = "multipart/mixed(\(shape)," + attached.map(type).joined(separator: ",") + ")"
            leaves += attached.map { .attachment($0, isInline: false) }
        }
        return (shape, leaves)
    }
}
