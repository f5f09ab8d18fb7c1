// SMTP AUTH (RFC 4954) for routes with credentials: CRAM-MD5 (RFC 2195) when
// offered, else PLAIN, else LOGIN; never without TLS unless the route says
// "insecure". A refused login is a report naming the mechanism. The
// credentials go on the wire in base64 and nowhere else.

internal import CTLS

extension SMTPSession {
    /// nil when logged in or no login is needed; else the report to QUIT with.
    func login(_ channel: inout Channel, extensions: Extensions, encrypted: Bool) throws(Stop) -> Report? {
        guard let credentials else { return nil }
        guard encrypted || credentials.allowWithoutTLS else { return LocalFailure.authNeedsTLS(ip).report }
        let offered = Set((extensions.parameters(of: "AUTH") ?? "").uppercased().split(separator: " ").map(String.init))
        if offered.contains("CRAM-MD5") {
            try channel.send(Command.line("AUTH CRAM-MD5"))
            let challenge = try channel.read()
            guard challenge.code.isAuthContinue, let text = Self.challengeText(challenge) else {
                return RemoteReport.loginRefused(ip: ip, mechanism: "CRAM-MD5", reply: challenge)
            }
            var digest = [UInt8](repeating: 0, count: 16)
            let ok = credentials.password.withUnsafeBufferPointer { key in
                text.withUnsafeBufferPointer { data in
                    ctls_hmac_md5(key.baseAddress, Int32(key.count), data.baseAddress, data.count, &digest)
                }
            }
            guard ok == 1 else { return RemoteReport.loginRefused(ip: ip, mechanism: "CRAM-MD5", reply: challenge) }
            let hex = Array("0123456789abcdef".utf8)
            let response = credentials.user + [32] + digest.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }
            return try finishLogin(&channel, Base64.encode(response), mechanism: "CRAM-MD5")
        }
        if offered.contains("PLAIN") {
            let response = Base64.encode([0] + credentials.user + [0] + credentials.password)
            try channel.send(Array("AUTH PLAIN ".utf8) + response + [13, 10])
            let reply = try channel.read()
            return reply.code.isAuthSuccess ? nil : RemoteReport.loginRefused(ip: ip, mechanism: "PLAIN", reply: reply)
        }
        if offered.contains("LOGIN") {
            try channel.send(Command.line("AUTH LOGIN"))
            let askUser = try channel.read()
            guard askUser.code.isAuthContinue else {
                return RemoteReport.loginRefused(ip: ip, mechanism: "LOGIN", reply: askUser)
            }
            try channel.send(Base64.encode(credentials.user) + [13, 10])
            let askPassword = try channel.read()
            guard askPassword.code.isAuthContinue else {
                return RemoteReport.loginRefused(ip: ip, mechanism: "LOGIN", reply: askPassword)
            }
            return try finishLogin(&channel, Base64.encode(credentials.password), mechanism: "LOGIN")
        }
        return LocalFailure.authNotOffered(ip).report
    }

    private func finishLogin(_ channel: inout Channel, _ response: [UInt8], mechanism: String) throws(Stop) -> Report? {
        try channel.send(response + [13, 10])
        let reply = try channel.read()
        return reply.code.isAuthSuccess ? nil : RemoteReport.loginRefused(ip: ip, mechanism: mechanism, reply: reply)
    }

    /// The decoded challenge of a "334 <base64>" reply.
    static func challengeText(_ reply: Reply) -> [UInt8]? {
        var line = reply.text.prefix { $0 != 10 }
        guard line.count >= 4 else { return nil }
        line = line.dropFirst(4)
        return Base64.decode(bytes: Array(line))
    }
}
