// The header fields of a message, taken from its start as the server will
// store it (every line ending CRLF), up to the empty line that ends them.
// Checks what signing needs of RFC 5322: field names before a colon,
// continuation lines only after a field, no NUL, a header/body separator,
// and a bounded size. Fed in pieces; not for the body.

import QmailSupport

struct HeaderSection {
    enum State: Equatable {
        case reading
        /// The empty line was read; the body follows.
        case complete
        /// Not a message that can be signed; `why` is for tests and logs.
        case invalid(String)
    }

    /// More header than this is not a message we sign (Postfix keeps 100 KiB).
    static let byteLimit = 256 * 1024

    private(set) var state = State.reading
    /// Each field as it stands, folding CRLFs included, without its final CRLF.
    private(set) var fields: [[UInt8]] = []
    private var line: [UInt8] = []
    private var size = 0

    /// Takes bytes (lines ending CRLF) until the header ends; returns how
    /// many were taken: the rest of `bytes` is the start of the body.
    mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard state == .reading else { return 0 }
        for (index, byte) in bytes.enumerated() {
            size += 1
            if size > Self.byteLimit {
                state = .invalid("the header is larger than \(Self.byteLimit) bytes")
                return index + 1
            }
            if byte == 0 {
                state = .invalid("a NUL byte in the header")
                return index + 1
            }
            if byte != 10 {
                line.append(byte)
                continue
            }
            // Every LF here ends a CRLF line (the encoder made it so).
            line.removeLast()
            endLine()
            if state != .reading { return index + 1 }
        }
        return bytes.count
    }

    /// The message ended: without the empty line there is no body to sign.
    mutating func finish() {
        if state == .reading { state = .invalid("no empty line between the header and the body") }
    }

    /// The fields named `name` (case-insensitive).
    func fields(named name: String) -> [[UInt8]] {
        let wanted = ASCIIName(name)
        return fields.filter { wanted.names($0) }
    }

    private mutating func endLine() {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            state = .complete
            return
        }
        if line[0] == 32 || line[0] == 9 {
            guard !fields.isEmpty else {
                state = .invalid("a continuation line before any field")
                return
            }
            fields[fields.count - 1] += [13, 10] + line
            return
        }
        // field-name: printable ASCII but the colon; blanks may stand before
        // the colon (RFC 5322's obsolete syntax).
        var index = 0
        while index < line.count, line[index] > 32, line[index] < 127, line[index] != UInt8(ascii: ":") { index += 1 }
        let nameEnd = index
        while index < line.count, line[index] == 32 || line[index] == 9 { index += 1 }
        guard nameEnd > 0, index < line.count, line[index] == UInt8(ascii: ":") else {
            state = .invalid("a header line that is not a field")
            return
        }
        fields.append(line)
    }
}

/// A field name compared the way header names are: ASCII letters fold.
struct ASCIIName {
    private let name: [UInt8]

    init(_ name: String) { self.name = ASCII.lowercased(name.utf8) }

    /// Whether `field` ("Name: value") has this name.
    func names(_ field: [UInt8]) -> Bool {
        guard field.count > name.count, ASCII.lowercased(field.prefix(name.count)) == name else { return false }
        var index = name.count
        while index < field.count, field[index] == 32 || field[index] == 9 { index += 1 }
        return index < field.count && field[index] == UInt8(ascii: ":")
    }
}
