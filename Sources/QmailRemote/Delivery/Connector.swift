// The seam between a delivery and the network: how a connection to a server
// is opened and how TLS is started on it. SystemConnector is the real one
// (POSIX sockets, OpenSSL); unit tests give scripted connections. What TLS
// needs (the plan: level, CA file, name, DANE's TLSA records) comes in whole.

import QmailSupport

/// A connection with TLS in place, and what that TLS is.
struct SecuredConnection {
    let connection: any Connection
    let summary: TLSSummary
}

protocol Connector {
    /// A new connection to `address:port`, from `source` when given, waiting
    /// at most `connectTimeout` seconds; each read and write then at most
    /// `ioTimeout`. Only `.timedOut` counts for the tcpto table.
    func connect(
        to address: IPAddress, port: UInt16, from source: IPAddress?, connectTimeout: Int, ioTimeout: Int
    ) -> Result<any Connection, TransportError>

    /// TLS over `connection` as `plan` says. On failure the connection is
    /// left to the caller (it is closed, never used in plain text again).
    func secure(_ connection: any Connection, plan: TLSPlan) -> Result<SecuredConnection, TLSFailure>
}

struct SystemConnector: Connector {
    func connect(
        to address: IPAddress, port: UInt16, from source: IPAddress?, connectTimeout: Int, ioTimeout: Int
    ) -> Result<any Connection, TransportError> {
        SocketConnection.connect(
            to: address, port: port, from: source, connectTimeout: connectTimeout, ioTimeout: ioTimeout
        ).map { $0 }
    }

    func secure(_ connection: any Connection, plan: TLSPlan) -> Result<SecuredConnection, TLSFailure> {
        guard let socket = connection as? SocketConnection else { return .failure(.failed("not a socket")) }
        let dane = plan.level == .dane && !plan.tlsa.isEmpty
        return TLSContextCache.context(
            caFile: plan.caFile, clientCertificate: plan.clientCertificate, ciphers: plan.ciphers, dane: dane
        )
        .flatMap {
            TLSConnection.handshake(
                over: socket, context: $0, serverName: plan.serverName, tlsa: dane ? plan.tlsa : [])
        }
        .map { SecuredConnection(connection: $0, summary: $0.summary) }
    }
}
