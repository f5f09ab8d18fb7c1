// One TLSContext per trust and client settings, made on first use and kept
// for the process: loading a CA store is the costly part of TLS set-up, and
// the gateway delivers many messages with the same settings.

import Synchronization

enum TLSContextCache {
    private struct Key: Hashable {
        let caFile: String?
        let clientCertificate: String?
        let ciphers: String?
        let dane: Bool
    }

    private static let contexts = Mutex<[Key: TLSContext]>([:])

    static func context(
        caFile: String?, clientCertificate: String?, ciphers: String?, dane: Bool = false
    ) -> Result<TLSContext, TLSFailure> {
        let key = Key(caFile: caFile, clientCertificate: clientCertificate, ciphers: ciphers, dane: dane)
        if let found = contexts.withLock({ $0[key] }) { return .success(found) }
        do {
            let made = try TLSContext(
                caFile: caFile, clientCertificate: clientCertificate, ciphers: ciphers, dane: dane)
            contexts.withLock { $0[key] = made }
            return .success(made)
        } catch {
            return .failure(error)
        }
    }
}
