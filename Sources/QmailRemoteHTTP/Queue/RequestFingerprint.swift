// What makes two requests with one Idempotency-Key "the same request": the
// envelope, the host and the message bytes, as decoded (not the JSON or the
// query they came in, so a form or a field order cannot tell them apart).
// SHA-256 over length-prefixed fields; the message is read in 64 KiB pieces.
// POST /v1/messages brings its own, made from its fields (ComposeFingerprint).

import QmailRemote
import QmailSupport

enum RequestFingerprint {
    /// The one the route made from the request (POST /v1/messages, whose built
    /// message is new each time), else the envelope's and the message's.
    static func of(_ submission: Submission) -> [UInt8]? {
        submission.requestFingerprint ?? of(submission.input, submission.message)
    }

    /// nil when the message cannot be read back (a spool file gone bad).
    static func of(_ input: DeliveryInput, _ message: StoredMessage) -> [UInt8]? {
        var hash = SHA256()
        func field(_ bytes: [UInt8]) {
            length(bytes.count)
            hash.update(bytes)
        }
        func length(_ count: Int) {
            let value = UInt64(count)
            hash.update((0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) })
        }
        hash.update(Array("qmail-remote-httpd delivery 1".utf8))
        field(input.sender)
        length(input.recipients.count)
        for recipient in input.recipients { field(recipient) }
        if let host = input.host {
            hash.update([1])
            field(host)
        } else {
            hash.update([0])
        }
        length(message.count)
        let source = message.reader()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { buffer throws(MessageReadError) in
                    try source.read(into: buffer)
                }
            } catch {
                return nil
            }
            if count == 0 { break }
            chunk.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return hash.finish()
    }
}
