// The signing pass's one read of a message, in 64 KiB pieces, in the form
// the server will store it (every line ending CRLF, no dot-stuffing: the
// wire's encoder without the dots): first the header fields, then the
// canonical body into a hash. A pipe's first bytes are kept, and the rest is
// copied into the spool as it goes by. Not here: what is signed and how
// (MessageSigning).

final class SigningPass {
    enum Failure: Error {
        case unreadable
        case cannotSpool(MessageSpool.Failure)
    }

    private let source: any MessageSource
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
    private var encoder = MessageEncoder(stuffingDots: false)
    private var stored: [UInt8] = []
    private var lineLength = 0
    private(set) var longestLine = 0
    private(set) var header = HeaderSection()
    /// Stored-form body bytes read with the end of the header.
    private var bodyStart: [UInt8] = []
    /// Raw bytes read with the header and not converted yet: the body's.
    private var bodyRest: [UInt8] = []
    private let keepsBytes: Bool
    /// The raw bytes read so far, when `keepsBytes` (a pipe: they go out either way).
    private(set) var taken: [UInt8] = []

    init(_ source: any MessageSource, keepingBytes: Bool) {
        self.source = source
        keepsBytes = keepingBytes
    }

    deinit { buffer.deallocate() }

    /// True when the message so far ends with a complete line.
    var endsWithCompleteLine: Bool { encoder.endsWithCompleteLine }

    /// Reads until the header is complete, or known not to be a header. A
    /// piece is converted a little at a time, up to the header's end: a
    /// message nobody signs costs its header only.
    func readHeader() throws(MessageReadError) {
        while header.state == .reading {
            let count = try source.read(into: buffer)
            if count == 0 {
                header.finish()
                return
            }
            let raw = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            if keepsBytes { taken += raw }
            var offset = 0
            while offset < count, header.state == .reading {
                let end = min(count, offset + Self.headerStep)
                convert(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
                let used = stored.withUnsafeBytes { header.consume($0) }
                if header.state == .complete { bodyStart = Array(stored[used...]) }
            }
            if header.state == .complete { bodyRest = Array(raw[offset...]) }
        }
    }

    private static let headerStep = 256

    /// Reads the rest, copying it into `spool` if there is one, and feeds
    /// the canonical body to `hash`. false: a line is longer than
    /// `lineLimit` (then a message without a spool is not read further).
    func hashBody(into hash: OpenSSLSHA256, spool: MessageSpool?, lineLimit: Int) throws(Failure) -> Bool {
        var body = RelaxedBody()
        var canonical: [UInt8] = []
        bodyStart.withUnsafeBytes { body.take($0, into: &canonical) }
        bodyStart = []
        // Already in the spool, with the header.
        bodyRest.withUnsafeBytes { convert($0) }
        bodyRest = []
        stored.withUnsafeBytes { body.take($0, into: &canonical) }
        hash.update(canonical)
        while true {
            let count: Int
            do throws(MessageReadError) {
                count = try source.read(into: buffer)
            } catch {
                throw .unreadable
            }
            if count == 0 { break }
            let raw = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            do throws(MessageSpool.Failure) {
                try spool?.append(raw)
            } catch {
                throw .cannotSpool(error)
            }
            if longestLine > lineLimit {
                if spool == nil { return false }
                continue
            }
            convert(raw)
            canonical.removeAll(keepingCapacity: true)
            stored.withUnsafeBytes { body.take($0, into: &canonical) }
            hash.update(canonical)
        }
        return longestLine <= lineLimit
    }

    /// `raw` in its stored form, in `stored`; the longest line so far.
    private func convert(_ raw: UnsafeRawBufferPointer) {
        stored.removeAll(keepingCapacity: true)
        encoder.encode(raw, into: &stored)
        for byte in stored {
            if byte == 10 {
                lineLength = 0
            } else {
                lineLength += 1
                longestLine = max(longestLine, lineLength)
            }
        }
    }
}
