// The signing keys of one configuration load, each read and handed to
// OpenSSL once, on the first message it signs: the gateway loads its
// configuration at most once a second and signs many messages with it, so a
// key is not decoded per delivery; the command signs one. What is wrong with
// a key is kept as well, until the next load.

import QmailSupport

final class SigningKeys: @unchecked Sendable {
    // @unchecked: `loaded` is read and written under `lock` only; the signers are Sendable.
    private let lock = Lock()
    private var loaded: [String: Result<DigestSigner, KeyProblem>] = [:]

    /// The signer for the key file at `path`, or what is wrong with the file.
    func signer(at path: String) -> Result<DigestSigner, KeyProblem> {
        lock.withLock {
            if let known = loaded[path] { return known }
            let made = SigningKey.load(path: path).flatMap { key in
                Result { () throws(KeyProblem) in try DigestSigner(key) }
            }
            loaded[path] = made
            return made
        }
    }
}
