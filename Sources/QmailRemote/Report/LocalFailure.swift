// The catalogue: every report text this program makes up itself (as opposed
// to texts that quote the server), each with its letter and (#x.y.z) code.
// Classic texts are qmail-remote's to the byte; ours are marked "ours".

import QmailSupport

public enum LocalFailure: Error, Sendable, Equatable {
    case invokedImproperly
    case unreadableControlFiles
    case noHomeDirectory
    case unreadableMessage
    case outOfMemory
    case resourcesUnavailable
    case temporaryDNSFailure
    case noSuchHost([UInt8])
    case noMailExchanger
    case listedAsBestMX
    case partialFinalLine
    case noConnection
    /// No recipient was accepted (no remote text: the replies were the recipients').
    case givingUp(IPAddress)
    case connectionDied(IPAddress, possibleDuplicate: Bool)
    /// Ours: the server's reply went past ReplyReader.replyByteLimit.
    case replyTooLong(IPAddress, possibleDuplicate: Bool)
    /// Ours: a sender with CR, LF, NUL or another byte that cannot be sent.
    case unsendableSender(MailboxText.Problem)
    /// Ours: a recipient that cannot be sent; an `h` report, others go on.
    case unsendableRecipient(MailboxText.Problem)
    /// Ours: every recipient was unsendable, so no connection was made.
    case noSendableRecipient
    /// Ours: QMAILREMOTE_DNS is set but is not IP[:PORT][,...].
    case badDNSSetting
    /// Ours: the server's SIZE limit is below the message's size.
    case tooLargeForServer(IPAddress, size: Int, limit: Int)
    /// Ours: UTF-8 in an address, and the server did not offer SMTPUTF8.
    case noSMTPUTF8(IPAddress)
    /// Ours: TLS is required (tlspolicy encrypt/verify, tlshosts) and the server does not offer STARTTLS.
    case startTLSNotOffered(IPAddress)
    /// Ours: TLS is required and the handshake failed (or TLS could not be set up).
    case tlsHandshakeFailed(IPAddress, reason: String)
    /// Ours: policy verify, and the certificate did not pass.
    case certificateNotVerified(IPAddress, name: [UInt8], reason: String)
    /// Ours: TLS is required for the destination, but control/esmtp is 0.
    case tlsNeedsESMTP
    /// Ours: credentials on the route, and the connection is not encrypted.
    case authNeedsTLS(IPAddress)
    /// Ours: credentials on the route, and the server offers no mechanism we have.
    case authNotOffered(IPAddress)
    /// Ours: the caller's `proceed` said no before the final dot (a gateway
    /// draining, a queue that could not record the dot): not delivered.
    case stoppedBeforeFinalDot
    /// Ours: the caller stopped waiting (a gateway at its drain deadline)
    /// after the final dot went out and before its reply: maybe delivered.
    case stoppedAwaitingFinalReply
    /// Ours: DANE or MTA-STS requires TLS and the server does not offer STARTTLS.
    case startTLSNotOfferedUnderPolicy(IPAddress, PolicyRequirement)
    /// Ours: DANE, and the server's certificate matches none of its TLSA records.
    case noTLSAMatch(IPAddress, name: [UInt8], reason: String)
    /// Ours: MTA-STS enforce, and the certificate did not pass for the MX host's name.
    case certificateNotVerifiedUnderPolicy(IPAddress, name: [UInt8], reason: String, domain: [UInt8])
    /// Ours: tlspolicy dane-only, and DNSSEC does not vouch for the server's name or addresses.
    case daneInsecure([UInt8])
    /// Ours: tlspolicy dane-only, and the server has no usable TLSA records.
    case noUsableTLSA([UInt8])
    /// Ours: the TLSA lookup for a server failed (SERVFAIL, a bogus answer, a time-out).
    case tlsaLookupFailed([UInt8])
    /// Ours: MTA-STS enforce, and the MX host is not one the policy names.
    case notInMTASTSPolicy([UInt8], domain: [UInt8])
    /// Ours: the caller's destination filter (the gateway's outbound policy)
    /// refused every address the host led to; no connection was made.
    case destinationNotAllowed(IPAddress, reason: String)

    public var report: Report {
        switch self {
        case .invokedImproperly: return Report(.messageFailed, "I (qmail-remote) was invoked improperly. (#5.3.5)\n")
        case .unreadableControlFiles: return Report(.messageDeferred, "Unable to read control files. (#4.3.0)\n")
        case .noHomeDirectory: return Report(.messageDeferred, "Unable to switch to home directory. (#4.3.0)\n")
        case .unreadableMessage: return Report(.messageDeferred, "Unable to read message. (#4.3.0)\n")
        case .outOfMemory: return Report(.messageDeferred, "Out of memory. (#4.3.0)\n")
        case .resourcesUnavailable:
            return Report(.messageDeferred, "System resources temporarily unavailable. (#4.3.0)\n")
        case .temporaryDNSFailure:
            return Report(.messageDeferred, "Sorry, I couldn't find any host by that name. (#4.1.2)\n")
        case .noSuchHost(let host):
            return Report(
                .messageFailed,
                Array("Sorry, I couldn't find any host named ".utf8)
                    + host.map { $0 < 33 || $0 > 126 ? UInt8(ascii: "?") : $0 } + Array(". (#5.1.2)\n".utf8))
        case .noMailExchanger:
            return Report(.messageFailed, "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n")
        case .listedAsBestMX:
            return Report(
                .messageFailed,
                "Sorry. Although I'm listed as a best-preference MX or A for that host,\nit isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n"
            )
        case .partialFinalLine:
            return Report(.messageFailed, "SMTP cannot transfer messages with partial final lines. (#5.6.2)\n")
        case .noConnection:
            return Report(.messageDeferred, "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n")
        case .givingUp(let ip): return Report(.messageFailed, "Giving up on \(ip).\n")
        case .connectionDied(let ip, let duplicate):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but connection died.\(duplicate ? " Possible duplicate!" : "") (#4.4.2)\n")
        case .replyTooLong(let ip, let duplicate):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but its reply was too long.\(duplicate ? " Possible duplicate!" : "") (#4.4.2)\n")
        case .unsendableSender(let problem):
            return Report(.messageFailed, "Sender address \(problem.phrase). (#5.1.7)\n")
        case .unsendableRecipient(let problem):
            return Report(.recipientRejected, "Recipient address \(problem.phrase). (#5.1.3)\n")
        case .noSendableRecipient: return Report(.messageFailed, "No recipient address could be sent. (#5.1.3)\n")
        case .badDNSSetting: return Report(.messageDeferred, "QMAILREMOTE_DNS is not a list of IP[:PORT]. (#4.3.0)\n")
        case .tooLargeForServer(let ip, let size, let limit):
            return Report(
                .messageFailed,
                "Connected to \(ip) but the message (\(size) bytes) is larger than its limit of \(limit) bytes. (#5.3.4)\n"
            )
        case .noSMTPUTF8(let ip):
            return Report(
                .messageFailed, "Connected to \(ip) but it cannot take UTF-8 addresses (no SMTPUTF8). (#5.6.7)\n")
        case .startTLSNotOffered(let ip):
            return Report(
                .messageDeferred, "Connected to \(ip) but it does not offer STARTTLS, and TLS is required. (#4.7.0)\n")
        case .tlsHandshakeFailed(let ip, let reason):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but the TLS handshake failed: \(Self.printable(reason)). (#4.7.0)\n")
        case .certificateNotVerified(let ip, let name, let reason):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but its certificate for \(Self.printable(String(decoding: name, as: UTF8.self))) was not verified: \(Self.printable(reason)). (#4.7.5)\n"
            )
        case .tlsNeedsESMTP:
            return Report(.messageDeferred, "TLS is required for this destination, but control/esmtp is 0. (#4.3.0)\n")
        case .authNeedsTLS(let ip):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but the connection is not encrypted, and the route's login needs TLS. (#4.7.0)\n")
        case .authNotOffered(let ip):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but it offers no login mechanism I have (PLAIN, LOGIN, CRAM-MD5). (#4.7.0)\n")
        case .stoppedBeforeFinalDot:
            return Report(
                .messageDeferred,
                "Delivery was stopped before the end of the message was sent; it was not delivered. (#4.3.0)\n")
        case .stoppedAwaitingFinalReply:
            return Report(
                .messageDeferred,
                "Stopped waiting for the reply to the end of the message; it may have been delivered. Possible duplicate! (#4.4.2)\n"
            )
        case .startTLSNotOfferedUnderPolicy(let ip, let requirement):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but it does not offer STARTTLS, and \(requirement.phrase) TLS. (#4.7.5)\n")
        case .noTLSAMatch(let ip, let name, let reason):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but its certificate matches no TLSA record of \(Self.printable(name)): \(Self.printable(reason)). (#4.7.5)\n"
            )
        case .certificateNotVerifiedUnderPolicy(let ip, let name, let reason, let domain):
            return Report(
                .messageDeferred,
                "Connected to \(ip) but its certificate for \(Self.printable(name)) was not verified: \(Self.printable(reason)), and the MTA-STS policy of \(Self.printable(domain)) requires it. (#4.7.5)\n"
            )
        case .daneInsecure(let name):
            return Report(
                .messageDeferred,
                "Sorry, DNSSEC does not vouch for the MX or address records of \(Self.printable(name)), and tlspolicy is dane-only. (#4.7.5)\n"
            )
        case .noUsableTLSA(let name):
            return Report(
                .messageDeferred,
                "Sorry, \(Self.printable(name)) has no usable TLSA records, and tlspolicy is dane-only. (#4.7.5)\n")
        case .tlsaLookupFailed(let name):
            return Report(
                .messageDeferred,
                "Sorry, the TLSA lookup for \(Self.printable(name)) failed, so it cannot be authenticated. (#4.7.5)\n")
        case .notInMTASTSPolicy(let name, let domain):
            return Report(
                .messageDeferred,
                "Sorry, \(Self.printable(name)) is not one of the MX hosts in the MTA-STS policy of \(Self.printable(domain)). (#4.7.5)\n"
            )
        case .destinationNotAllowed(let ip, let reason):
            return Report(
                .messageFailed,
                "Sorry, \(ip) is \(Self.printable(reason)), and the destination policy does not allow delivery there. (#5.7.1)\n"
            )
        }
    }

    /// A name from DNS or the envelope, with unprintable bytes as '?'.
    static func printable(_ name: [UInt8]) -> String { printable(String(decoding: name, as: UTF8.self)) }

    /// Text from outside (a name, OpenSSL's words) with bytes below 32 or above 126 as '?'.
    static func printable(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 < 32 || $0 > 126 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}

/// Who requires TLS of a server, in a report's words.
public enum PolicyRequirement: Sendable, Equatable {
    /// The TLSA records of this MX host (DANE).
    case dane([UInt8])
    /// The MTA-STS policy (enforce) of this recipient domain.
    case mtaSTS([UInt8])

    var phrase: String {
        switch self {
        case .dane(let name): return "the TLSA records of \(LocalFailure.printable(name)) require"
        case .mtaSTS(let domain): return "the MTA-STS policy of \(LocalFailure.printable(domain)) requires"
        }
    }
}
