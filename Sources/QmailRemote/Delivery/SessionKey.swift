// What makes two deliveries able to share a connection: the same server
// (address and port), reached from the same outgoing address, greeted with
// the same name in the same mode, with the same TLS plan (level, CA file,
// the name the certificate was checked against, client certificate) and the
// same login. A reused connection is then exactly what a new one would be.

import QmailSupport

struct SessionKey: Hashable, Sendable {
    let address: IPAddress
    let port: UInt16
    let source: IPAddress?
    let helohost: [UInt8]
    let esmtp: Bool
    let tls: TLSPlan
    let credentials: Credentials?
}
