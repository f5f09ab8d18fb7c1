// The signing pass with real keys and OpenSSL: what is signed and how it is
// put in front of the message, which messages go unsigned (and unchanged),
// which problems keep the mail waiting (with the diagnostic), and the spool
// for messages that can be read only once (and only when they are signed).
// Verification by verifiers nobody here wrote is in Tests/e2e/test_dkim.py,
// on the bytes a server received.

import Foundation
import QmailSupport
import Testing

@testable import QmailRemote

/// A message that can be read again from its start, as a regular file can.
final class RereadableBytes: MessageSource {
    private let bytes: [UInt8]
    private var position = 0

    init(_ text: String) { bytes = Array(text.utf8) }
    init(bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
        let count = min(buffer.count, bytes.count - position, 1000)
        for index in 0..<count { buffer[index] = bytes[position + index] }
        position += count
        return count
    }

    func readerFromStart() -> (any MessageSource)? { RereadableBytes(bytes: bytes) }
}

func readAll(_ message: any MessageSource) -> String {
    var all: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = try! buffer.withUnsafeMutableBytes { raw throws(MessageReadError) in try message.read(into: raw) }
        if count == 0 { return String(decoding: all, as: UTF8.self) }
        all += buffer[0..<count]
    }
}

@Suite struct MessageSigningTests {
    static let message = "From: Me <me@example.com>\nTo: you@x.test\nSubject: hi\n\nbody\n"

    func domains(
        _ lines: [String], keys: [(dir: String, selector: String, key: String)], spool: String = "/tmp"
    )
        throws -> DKIMDomains
    {
        let control = TestKeys.controlDirectory(keys: keys)
        return try DKIMDomains(
            lines: lines.map { Array($0.utf8) }, file: control + "/dkimdomains", keyDirectory: control + "/dkimkeys",
            spoolDirectory: spool)
    }

    var rsa: DKIMDomains { try! domains(["example.com:sel"], keys: [("example.com", "sel", "rsa2048")]) }

    func sign(
        _ message: some MessageSource, _ domains: DKIMDomains, sender: String = "me@example.com",
        now: Int = Int(time(nil))
    )
        -> MessageSigning.Outcome
    {
        MessageSigning.sign(message, sender: Array(sender.utf8), domains: domains, now: now)
    }

    /// The tags of the first DKIM-Signature field in `text`.
    func tags(_ text: String) -> [String: String] {
        let field = text.components(separatedBy: "\r\nDKIM-Signature:").first!
        let value = field.dropFirst("DKIM-Signature:".count).replacingOccurrences(of: "\r\n", with: "")
            .replacingOccurrences(of: "\t", with: "").replacingOccurrences(of: " ", with: "")
        var tags: [String: String] = [:]
        for pair in value.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            tags[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return tags
    }

    @Test func signedMessageHasTheFieldFirstThenTheMessageAsItWas() throws {
        guard case .signed(let signed, let summaries) = sign(RereadableBytes(Self.message), rsa) else {
            Issue.record("not signed")
            return
        }
        #expect(summaries == [DKIMSignatureSummary(domain: "example.com", selector: "sel", algorithm: "rsa-sha256")])
        let text = readAll(signed)
        #expect(text.hasPrefix("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;\r\n\t"))
        // The message itself follows untouched: line endings are the encoder's business.
        #expect(text.hasSuffix("\r\n" + Self.message))
        let tags = tags(text)
        #expect(tags["h"] == "From:To:Subject:From")
        #expect(tags["t"].flatMap { Int($0) }.map { abs($0 - Int(time(nil))) < 60 } == true)
        #expect(tags["bh"]?.isEmpty == false && tags["b"]?.isEmpty == false)
        // Each line of the field ends CRLF; none is longer than 80.
        let field = text.components(separatedBy: "\r\nFrom: ").first!
        #expect(!field.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(field.components(separatedBy: "\r\n").allSatisfy { $0.count <= 80 })
    }

    @Test func theFieldsAndTheMessageReadInAnyPieces() {
        let signed = PrefixedMessage(
            Array("DKIM-Signature: v=1;\r\n\tb=x\r\n".utf8), then: RereadableBytes("A: b\n\nc\n"))
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 7)
        while true {
            let count = try! buffer.withUnsafeMutableBytes { raw throws(MessageReadError) in try signed.read(into: raw)
            }
            if count == 0 { break }
            #expect(count <= 7)
            all += buffer[0..<count]
        }
        #expect(String(decoding: all, as: UTF8.self) == "DKIM-Signature: v=1;\r\n\tb=x\r\nA: b\n\nc\n")
    }

    @Test func theFactsCountTheField() throws {
        final class Known: MessageSource {
            let inner = RereadableBytes(MessageSigningTests.message)
            func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
                try inner.read(into: buffer)
            }
            func readerFromStart() -> (any MessageSource)? { inner.readerFromStart() }
            func facts() -> MessageFacts? { MessageFacts(size: 100, eightBit: false) }
        }
        guard case .signed(let signed, _) = sign(Known(), rsa) else {
            Issue.record("not signed")
            return
        }
        let facts = try #require(signed.facts())
        let fieldLength = readAll(signed).utf8.count - Self.message.utf8.count
        #expect(facts.size > 100 + fieldLength && facts.eightBit == false)
    }

    @Test func twoSelectorsMakeTwoSignaturesInTheirOrder() throws {
        let both = try domains(
            ["example.com:rsa,ed"], keys: [("example.com", "rsa", "rsa2048"), ("example.com", "ed", "ed25519")])
        guard case .signed(let signed, let summaries) = sign(RereadableBytes(Self.message), both) else {
            Issue.record("not signed")
            return
        }
        #expect(summaries.map(\.algorithm) == ["rsa-sha256", "ed25519-sha256"])
        let text = readAll(signed)
        #expect(text.components(separatedBy: "DKIM-Signature: ").count == 3)
        #expect(text.range(of: "a=rsa-sha256")!.lowerBound < text.range(of: "a=ed25519-sha256")!.lowerBound)
    }

    @Test func twoFromFieldsAreNotSigned() throws {
        // RFC 5322 allows one From: only: such a message is not signed at all.
        let message = "From: a@example.com\nFrom: b@example.com\n\nx\n"
        guard case .unsigned(let unsigned) = sign(RereadableBytes(message), rsa) else {
            Issue.record("signed")
            return
        }
        #expect(readAll(unsigned) == message)
    }

    @Test(arguments: [
        "To: you@x.test\nSubject: no from\n\nbody\n",
        "From: me@example.com\nSubject: no separator\n",
        "From: me@example.com\n\nno final newline",
        "From: me@example.com\nnot a field\n\nbody\n",
        "From: me@example.com\n\n" + String(repeating: "x", count: MessageSigning.lineLimit + 1) + "\n",
        "From: me@other.test\n\nnot ours\n",
    ])
    func messagesThatCannotOrNeedNotBeSignedGoUnchanged(message: String) throws {
        guard case .unsigned(let unsigned) = sign(RereadableBytes(message), rsa, sender: "x@other.test") else {
            Issue.record("not sent unsigned")
            return
        }
        #expect(readAll(unsigned) == message)
    }

    @Test func theSenderDomainSignsWhenFromDoesNot() throws {
        guard
            case .signed(_, let summaries) = sign(
                RereadableBytes("From: a@other.test\n\nx\n"), rsa, sender: "bounce@example.com")
        else {
            Issue.record("not signed")
            return
        }
        #expect(summaries.map(\.domain) == ["example.com"])
    }

    @Test func aMissingOrBadKeyKeepsTheMailWaitingAndSaysWhich() throws {
        let missing = try domains(["# keys", "example.com:sel"], keys: [])
        guard case .failed(let failure, let diagnostic) = sign(RereadableBytes(Self.message), missing) else {
            Issue.record("not failed")
            return
        }
        #expect(failure == .unreadableControlFiles)
        #expect(diagnostic == missing.keyDirectory + "/example.com/sel does not exist (\(missing.file) line 2)")

        let small = try domains(
            ["example.com:a,b"], keys: [("example.com", "a", "ed25519"), ("example.com", "b", "rsa512")])
        guard case .failed(_, let why) = sign(RereadableBytes(Self.message), small) else {
            Issue.record("not failed")
            return
        }
        #expect(why?.contains("/example.com/b is an RSA key of 512 bits") == true)
    }

    @Test func aReadOnceMessageIsSpooledAndNothingIsLeftBehind() throws {
        let spool = TestKeys.scratchDirectory("spool")
        let table = try domains(["example.com:sel"], keys: [("example.com", "sel", "rsa2048")], spool: spool)
        let body = String(repeating: "a line of the body\n", count: 20000)
        guard case .signed(let signed, _) = sign(BytesMessage(Self.message + body, pieceSize: 65536), table) else {
            Issue.record("not signed")
            return
        }
        #expect(readAll(signed).hasSuffix("\r\n" + Self.message + body))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty)
        // Spooled, then found not signable (a partial final line): the spooled copy goes out.
        guard case .unsigned(let unsigned) = sign(BytesMessage(Self.message + "no end"), table) else {
            Issue.record("signed")
            return
        }
        #expect(readAll(unsigned) == Self.message + "no end")
    }

    @Test func aReadOnceMessageThatIsNotSignedIsNotSpooled() throws {
        let table = try domains(["example.com:sel"], keys: [], spool: "/nonexistent/spool")
        for message in [
            "From: a@other.test\n\n" + String(repeating: "x\n", count: 50000), "no header at all",
            "Subject: no From\n\nx\n",
        ] {
            let pipe = BytesMessage(message, pieceSize: 4096)
            guard case .unsigned(let unsigned) = sign(pipe, table, sender: "a@other.test") else {
                Issue.record("not sent unsigned")
                return
            }
            // Only the header was read to decide; the rest comes from the pipe as it is sent.
            #expect(pipe.reads <= 2)
            #expect(readAll(unsigned) == message)
        }
    }

    @Test func aSpoolThatCannotBeMadeKeepsTheMailWaiting() throws {
        let table = try domains(
            ["example.com:sel"], keys: [("example.com", "sel", "ed25519")], spool: "/nonexistent/spool")
        guard case .failed(let failure, let diagnostic) = sign(BytesMessage(Self.message), table) else {
            Issue.record("not failed")
            return
        }
        #expect(failure == .resourcesUnavailable)
        #expect(
            diagnostic
                == "cannot spool the message to sign it: cannot make a file in /nonexistent/spool: No such file or directory"
        )
    }

    @Test func aPipeThatFailsWhileSpooledIsUnreadable() throws {
        final class FailingLater: MessageSource {
            let start = BytesMessage(MessageSigningTests.message)
            var reads = 0
            func read(into buffer: UnsafeMutableRawBufferPointer) throws(MessageReadError) -> Int {
                let count = try start.read(into: buffer)
                if count == 0 { throw MessageReadError() }
                return count
            }
        }
        let spool = TestKeys.scratchDirectory("spool")
        let table = try domains(["example.com:sel"], keys: [("example.com", "sel", "ed25519")], spool: spool)
        guard case .failed(let failure, nil) = sign(FailingLater(), table) else {
            Issue.record("not failed")
            return
        }
        #expect(failure == .unreadableMessage)
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty)
    }

    @Test func anUnreadableMessageIsThatReport() throws {
        guard case .failed(let failure, nil) = sign(UnreadableMessage(), rsa) else {
            Issue.record("not failed")
            return
        }
        #expect(failure == .unreadableMessage)
    }
}
