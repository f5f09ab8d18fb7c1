// One message's signing pass, before any connection: decide from its From:
// field and the envelope sender whether control/dkimdomains signs it, read
// the keys, feed libopendkim the message as the server will store it, and
// hand back what to send. The message is read twice (a pipe is spooled
// first), in constant memory. A bad key is the mail waiting; a message that
// is not RFC 5322 enough to sign goes unsigned, never refused.

enum MessageSigning {
    enum Outcome {
        /// Send this as it is: nothing matched, or the message cannot be signed.
        case unsigned(any MessageSource)
        case signed(SignedMessage, [DKIMSignatureSummary])
        /// The mail waits: the report and, for stderr, what is wrong.
        case failed(LocalFailure, diagnostic: String?)
    }

    /// A longer line is not RFC 5322 (998 bytes) and libopendkim would hold it whole.
    static let lineLimit = 65536

    static func sign(_ message: some MessageSource, sender: [UInt8], domains: DKIMDomains) -> Outcome {
        let signing: any MessageSource
        let sending: any MessageSource
        if let again = message.readerFromStart() {
            signing = again
            sending = message
        } else {
            do throws(MessageSpool.Failure) {
                let spool = try MessageSpool(copying: message, into: domains.spoolDirectory)
                signing = spool.reader()
                sending = spool.reader()
            } catch {
                switch error {
                case .unreadable: return .failed(.unreadableMessage, diagnostic: nil)
                case .cannotStore(let why):
                    return .failed(.resourcesUnavailable, diagnostic: "cannot spool the message to sign it: \(why)")
                }
            }
        }
        do throws(MessageReadError) {
            return try sign(reading: signing, sending: sending, sender: sender, domains: domains)
        } catch {
            return .failed(.unreadableMessage, diagnostic: nil)
        }
    }

    private static func sign(
        reading signing: any MessageSource, sending: any MessageSource, sender: [UInt8], domains: DKIMDomains
    ) throws(MessageReadError) -> Outcome {
        var input = NormalizedInput(signing)
        var header = HeaderSection()
        var bodyStart: [UInt8] = []
        while header.state == .reading {
            guard let chunk = try input.next() else {
                header.finish()
                break
            }
            let taken = chunk.withUnsafeBytes { header.consume($0) }
            if header.state == .complete { bodyStart = Array(chunk[taken...]) }
        }
        let from = header.fields(named: "From")
        guard header.state == .complete, from.count == 1,
            let plan = domains.plan(fromDomain: FromDomain.of(from[0]), senderDomain: domain(of: sender))
        else {
            return .unsigned(sending)
        }

        let signers: [DKIMSigner]
        switch makeSigners(for: plan, domains: domains) {
        case .success(let made): signers = made
        case .failure(let waiting): return .failed(waiting.failure, diagnostic: waiting.diagnostic)
        }
        for field in header.fields where !signers.allSatisfy({ $0.header(field) }) { return .unsigned(sending) }
        guard signers.allSatisfy({ $0.endOfHeaders() }),
            bodyStart.withUnsafeBytes({ bytes in signers.allSatisfy { $0.body(bytes) } })
        else {
            return .unsigned(sending)
        }
        while let chunk = try input.next() {
            guard input.longestLine <= lineLimit,
                chunk.withUnsafeBytes({ bytes in signers.allSatisfy { $0.body(bytes) } })
            else {
                return .unsigned(sending)
            }
        }
        // A partial final line: the delivery refuses it as it always has.
        guard input.endsWithCompleteLine, input.longestLine <= lineLimit else { return .unsigned(sending) }

        var fields: [UInt8] = []
        for (signer, key) in zip(signers, plan.keys) {
            switch signer.finish() {
            case .success(let field): fields += field
            case .failure(let problem):
                return .failed(
                    .unreadableControlFiles,
                    diagnostic: "\(key.path): \(problem.phrase) (\(domains.file) line \(plan.line))")
            }
        }
        return .signed(SignedMessage(fields: fields, message: sending), signers.map(\.summary))
    }

    /// One signer per selector, or why the mail waits.
    private static func makeSigners(for plan: DKIMDomains.Plan, domains: DKIMDomains) -> Result<[DKIMSigner], Waiting> {
        let because = "(\(domains.file) line \(plan.line))"
        var signers: [DKIMSigner] = []
        for key in plan.keys {
            let loaded: SigningKey
            switch SigningKey.load(path: key.path) {
            case .success(let found): loaded = found
            case .failure(let problem):
                return .failure(Waiting(.unreadableControlFiles, "\(key.path) \(problem.phrase) \(because)"))
            }
            if let problem = DKIMSigner.loadProblem() {
                return .failure(Waiting(.resourcesUnavailable, "cannot sign \(because): \(problem)"))
            }
            do throws(KeyProblem) {
                signers.append(try DKIMSigner(key: loaded, selector: key.selector, domain: plan.domain))
            } catch {
                return .failure(Waiting(.unreadableControlFiles, "\(key.path): \(error.phrase) \(because)"))
            }
        }
        return .success(signers)
    }

    private struct Waiting: Error {
        let failure: LocalFailure
        let diagnostic: String

        init(_ failure: LocalFailure, _ diagnostic: String) {
            self.failure = failure
            self.diagnostic = diagnostic
        }
    }

    /// The envelope sender's domain: after its last @; nil for the empty sender.
    private static func domain(of sender: [UInt8]) -> [UInt8]? {
        guard let at = sender.lastIndex(of: UInt8(ascii: "@")) else { return nil }
        return Array(sender[(at + 1)...])
    }
}

/// The message in pieces as the server will store it: every line ending
/// CRLF, no dot-stuffing (the same encoder as the wire, without the dots).
private struct NormalizedInput {
    private let source: any MessageSource
    private var encoder = MessageEncoder(stuffingDots: false)
    private var input = [UInt8](unsafeUninitializedCapacity: 65536) { $1 = 65536 }
    private var lineLength = 0
    private(set) var longestLine = 0

    init(_ source: any MessageSource) { self.source = source }

    var endsWithCompleteLine: Bool { encoder.endsWithCompleteLine }

    /// The next piece; nil at the end.
    mutating func next() throws(MessageReadError) -> [UInt8]? {
        let count: Int
        do {
            count = try input.withUnsafeMutableBytes { raw throws(MessageReadError) in try source.read(into: raw) }
        } catch {
            throw MessageReadError()
        }
        if count == 0 { return nil }
        var output: [UInt8] = []
        input.withUnsafeBytes { encoder.encode(UnsafeRawBufferPointer(rebasing: $0[0..<count]), into: &output) }
        for byte in output {
            if byte == 10 {
                lineLength = 0
            } else {
                lineLength += 1
                longestLine = max(longestLine, lineLength)
            }
        }
        return output
    }
}
