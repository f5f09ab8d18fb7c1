// Runs a MIME parser nobody here wrote (Python's email package, Perl's
// Email::MIME) on a message through the scripts in Parsers/, and reads back
// what it found: header fields, addresses, the part tree, decoded texts and
// attachment bytes, and the defects it noticed.

import Foundation
import Testing

enum MIMEParser: String, CaseIterable, CustomTestStringConvertible {
    case python, perl

    var testDescription: String { rawValue }

    private var command: [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Parsers")
        switch self {
        case .python: return ["python3", folder.appendingPathComponent("parse_python.py").path]
        case .perl: return ["perl", folder.appendingPathComponent("parse_perl.pl").path]
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses `message`; attachment bodies are read back from the files the script wrote.
    func parse(_ message: [UInt8]) throws -> ParsedMessage {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mailcomposer-\(rawValue)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let messageFile = folder.appendingPathComponent("message.eml")
        try Data(message).write(to: messageFile)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command + [messageFile.path, folder.path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read before waiting: a large answer would fill the pipe.
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description: "\(rawValue) parser exited \(process.terminationStatus): "
                    + String(decoding: complaint, as: UTF8.self))
        }
        var parsed = try JSONDecoder().decode(ParsedMessage.self, from: answer)
        try parsed.tree.loadFiles()
        return parsed
    }
}

struct ParsedAddress: Decodable, Equatable, CustomStringConvertible {
    let name: String
    let local: String
    let domain: String

    var description: String { "\(name) <\(local)@\(domain)>" }
}

struct ParsedMessage: Decodable {
    let headers: [[String]]
    var tree: ParsedPart
    let defects: [String]
    let from: [ParsedAddress]?
    let to: [ParsedAddress]?
    let cc: [ParsedAddress]?
    let replyTo: [ParsedAddress]?
    let bcc: [ParsedAddress]?
    let subject: String?
    let messageID: String?
    let date: String?
    let mimeVersion: String?

    enum CodingKeys: String, CodingKey {
        case headers, tree, defects, from, to, cc, bcc, subject, date
        case replyTo = "reply-to"
        case messageID = "message-id"
        case mimeVersion = "mime-version"
    }

    /// The value of the first field called `name` (any case).
    func header(_ name: String) -> String? {
        headers.first { $0[0].lowercased() == name.lowercased() }?[1]
    }
}

struct ParsedPart: Decodable {
    let contentType: String
    let params: [String: String]
    let cte: String?
    let disposition: String?
    let filename: String?
    let contentID: String?
    let text: String?
    let file: String?
    var children: [ParsedPart]?
    var bytes: [UInt8]?

    enum CodingKeys: String, CodingKey {
        case params, cte, disposition, filename, text, file, children
        case contentType = "content_type"
        case contentID = "content_id"
    }

    mutating func loadFiles() throws {
        if let file { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))) }
        if children != nil {
            for index in children!.indices { try children![index].loadFiles() }
        }
    }

    /// "multipart/mixed(text/plain,application/pdf)", for comparing shapes.
    var shape: String {
        guard let children else { return contentType }
        return contentType + "(" + children.map(\.shape).joined(separator: ",") + ")"
    }

    /// The parts that are not multipart, in order.
    var leaves: [ParsedPart] { children.map { $0.flatMap(\.leaves) } ?? [self] }
}
