// SMTP AUTH (RFC 4954) for routes with credentials: CRAM-MD5 (RFC 2195) when
// offered, else PLAIN, else LOGIN; never without TLS unless the route says
// "insecure". A refused login is a report naming the mechanism. The
// credentials go on the wire in base64 and nowhere else.

import QmailSupport

extension SMTPConversation {
    /// AUTH when the route has a login, then the mail transaction.
    mutating func loginOrTransaction() -> Action {
        guard let credentials else { return beginTransaction() }
        guard tls != nil || credentials.allowWithoutTLS else {
            return finish(LocalFailure.authNeedsTLS(ip).report, .quit)
        }
        let offered = Set((extensions.parameters(of: "AUTH") ?? "").uppercased().split(separator: " "))
        if offered.contains("CRAM-MD5") {
            return send(Command.auth("CRAM-MD5"), then: .login(.cramChallenge))
        }
        if offered.contains("PLAIN") {
            let response = Base64.encode([0] + credentials.user + [0] + credentials.password)
            return send(Command.auth("PLAIN", initialResponse: response), then: .login(.result(mechanism: "PLAIN")))
        }
        if offered.contains("LOGIN") {
            return send(Command.auth("LOGIN"), then: .login(.loginUser))
        }
        return finish(LocalFailure.authNotOffered(ip).report, .quit)
    }

    mutating func login(_ step: LoginStep, _ reply: Reply) -> Action {
        guard let credentials else { preconditionFailure("a login without credentials") }
        func refused(_ mechanism: String) -> Action {
            finish(RemoteReport.loginRefused(ip: ip, mechanism: mechanism, reply: reply), .quit)
        }
        switch step {
        case .cramChallenge:
            guard reply.code.verdict(at: .authChallenge) == .accepted, let challenge = Self.challengeText(reply),
                let digest = TLSLibrary.hmacMD5(key: credentials.password, data: challenge)
            else { return refused("CRAM-MD5") }
            let hex = Array("0123456789abcdef".utf8)
            let response = credentials.user + [32] + digest.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }
            return send(
                Command.loginResponse(Base64.encode(response)), then: .login(.result(mechanism: "CRAM-MD5")))
        case .loginUser:
            guard reply.code.verdict(at: .authChallenge) == .accepted else { return refused("LOGIN") }
            return send(Command.loginResponse(Base64.encode(credentials.user)), then: .login(.loginPassword))
        case .loginPassword:
            guard reply.code.verdict(at: .authChallenge) == .accepted else { return refused("LOGIN") }
            return send(
                Command.loginResponse(Base64.encode(credentials.password)), then: .login(.result(mechanism: "LOGIN")))
        case .result(let mechanism):
            guard reply.code.verdict(at: .authResult) == .accepted else { return refused(mechanism) }
            return beginTransaction()
        }
    }

    /// The decoded challenge of a "334 <base64>" reply.
    static func challengeText(_ reply: Reply) -> [UInt8]? {
        var line = reply.text.prefix { $0 != 10 }
        guard line.count >= 4 else { return nil }
        line = line.dropFirst(4)
        return Base64.decode(bytes: Array(line))
    }
}
