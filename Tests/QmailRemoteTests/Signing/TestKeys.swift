// Private keys for the signing tests, made once per test run by the openssl
// command (as the README tells operators to make them) in a temporary
// directory, and control and spool directories inside it; all of it is
// removed when the test process exits.

import Foundation

@testable import QmailRemote

enum TestKeys {
    /// Made once; every test reads the same files.
    static let directory: String = {
        let path = NSTemporaryDirectory() + "dkim-keys-" + String(getpid())
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestKeys.directory) }
        openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path + "/rsa2048"])
        openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", path + "/rsa1024"])
        openssl(["rsa", "-in", path + "/rsa1024", "-traditional", "-out", path + "/rsa1024-pkcs1"])
        openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512", "-out", path + "/rsa512"])
        openssl(["genpkey", "-algorithm", "ED25519", "-out", path + "/ed25519"])
        openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path + "/ec"])
        openssl(["ec", "-in", path + "/ec", "-out", path + "/ec-traditional"])
        openssl(["genpkey", "-algorithm", "X25519", "-out", path + "/x25519"])
        openssl(["pkey", "-in", path + "/rsa2048", "-pubout", "-out", path + "/rsa2048.pub"])
        openssl(["pkey", "-in", path + "/rsa2048", "-aes256", "-passout", "pass:secret", "-out", path + "/encrypted"])
        openssl([
            "rsa", "-in", path + "/rsa1024", "-traditional", "-aes256", "-passout", "pass:secret", "-out",
            path + "/encrypted-pkcs1",
        ])
        return path
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    static func text(_ name: String) -> String { try! String(contentsOfFile: path(name), encoding: .utf8) }

    /// A new, empty directory that goes when the keys do.
    static func scratchDirectory(_ name: String) -> String {
        let path = directory + "/" + name + "-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A control directory with control/dkimkeys/<dir>/<selector> copied from the named keys.
    static func controlDirectory(keys: [(dir: String, selector: String, key: String)]) -> String {
        let control = scratchDirectory("control")
        for key in keys {
            let dir = control + "/dkimkeys/" + key.dir
            try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try! FileManager.default.copyItem(atPath: path(key.key), toPath: dir + "/" + key.selector)
        }
        return control
    }

    static func write(_ path: String, _ text: String) {
        try! text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    private static func openssl(_ arguments: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try! process.run()
        process.waitUntilExit()
        precondition(process.terminationStatus == 0, "openssl \(arguments) failed")
    }
}
