// One message's signing, before any connection: read its header to see from
// its From: field and the envelope sender whether control/dkimdomains signs
// it; if so, take the keys, hash the canonical body, sign, and hand back what
// to send. Constant memory: a regular file is read twice; a pipe is spooled
// while it is hashed, and only when it is signed. A bad key is the mail
// waiting; a message that is not RFC 5322 enough to sign goes unsigned,
// never refused.

enum MessageSigning {
    enum Outcome {
        /// Send this as it is: nothing matched, or the message cannot be signed.
        case unsigned(any MessageSource)
        /// The DKIM-Signature fields, then the message as it would have gone unsigned.
        case signed(any MessageSource, [DKIMSignatureSummary])
        /// The mail waits: the report and, for stderr, what is wrong.
        case failed(LocalFailure, diagnostic: String?)
    }

    /// A longer line is far past RFC 5322's 998 bytes: such a message is sent unsigned.
    static let lineLimit = 65536

    /// `now`: the t= tag, seconds since the epoch.
    static func sign(_ message: some MessageSource, sender: [UInt8], domains: DKIMDomains, now: Int) -> Outcome {
        let again = message.readerFromStart()
        let pass = SigningPass(again ?? message, keepingBytes: again == nil)
        do throws(MessageReadError) {
            try pass.readHeader()
        } catch {
            return .failed(.unreadableMessage, diagnostic: nil)
        }
        let from = pass.header.fields(named: "From")
        guard pass.header.state == .complete, from.count == 1,
            let plan = domains.plan(fromDomain: FromDomain.of(from[0]), senderDomain: domain(of: sender))
        else {
            return .unsigned(again == nil ? PrefixedMessage(pass.taken, then: message) : message)
        }
        let because = "(\(domains.file) line \(plan.line))"

        var signers: [DigestSigner] = []
        for key in plan.keys {
            switch domains.keys.signer(at: key.path) {
            case .success(let signer): signers.append(signer)
            case .failure(let problem):
                return .failed(.unreadableControlFiles, diagnostic: "\(key.path) \(problem.phrase) \(because)")
            }
        }

        let bodyHash = OpenSSLSHA256()
        let spool: MessageSpool?
        let complete: Bool
        do throws(SigningPass.Failure) {
            if again == nil {
                do throws(MessageSpool.Failure) {
                    spool = try MessageSpool(in: domains.spoolDirectory)
                    try spool?.append(pass.taken)
                } catch {
                    throw .cannotSpool(error)
                }
            } else {
                spool = nil
            }
            complete = try pass.hashBody(into: bodyHash, spool: spool, lineLimit: lineLimit)
        } catch {
            switch error {
            case .unreadable: return .failed(.unreadableMessage, diagnostic: nil)
            case .cannotSpool(let failure):
                return .failed(
                    .resourcesUnavailable, diagnostic: "cannot spool the message to sign it: \(failure.phrase)")
            }
        }
        let sending = spool?.reader() ?? message
        // A partial final line: the delivery refuses it as it always has.
        guard complete, pass.endsWithCompleteLine else { return .unsigned(sending) }

        let headers = SignedHeaders(pass.header.fields)
        let hashedBody = bodyHash.finish()
        var fields: [UInt8] = []
        for (signer, key) in zip(signers, plan.keys) {
            let field = SignatureField(
                domain: plan.domain, selector: key.selector, algorithm: signer.algorithm.tag, time: now,
                names: headers.names, bodyHash: hashedBody)
            // RFC 6376 3.7: the signed fields, then this one with b= empty and no final CRLF.
            let digest = OpenSSLSHA256.digest(headers.canonical, RelaxedHeader.canonical(field.text))
            guard let signature = signer.sign(digest) else {
                return .failed(.unreadableControlFiles, diagnostic: "\(key.path) cannot make a signature \(because)")
            }
            fields += field.signed(signature)
        }
        let summaries = zip(signers, plan.keys).map { signer, key in
            DKIMSignatureSummary(
                domain: String(decoding: plan.domain, as: UTF8.self),
                selector: String(decoding: key.selector, as: UTF8.self), algorithm: signer.algorithm.tag)
        }
        return .signed(PrefixedMessage(fields, then: sending), summaries)
    }

    /// The envelope sender's domain: after its last @; nil for the empty sender.
    private static func domain(of sender: [UInt8]) -> [UInt8]? {
        guard let at = sender.lastIndex(of: UInt8(ascii: "@")) else { return nil }
        return Array(sender[(at + 1)...])
    }
}
