// swift-tools-version: 6.0
// The qmail-remote package: the delivery core (QmailRemote), what the core and
// the gateway share that is not delivery (QmailSupport: IP addresses, control
// files, base64, locks, writing to descriptors), the drop-in qmail-remote
// command, the HTTP gateway (QmailRemoteHTTP, qmail-remote-httpd), the MIME
// message builder of the compose API (MailComposer) and the C bridges (CResolv:
// glibc's resolver; CTLS: OpenSSL; CMicroHTTPD: libmicrohttpd; CEpoll: epoll for
// the gateway's acceptor; CSQLite and CLibPQ: the gateway's store; CGnuTLS:
// the gateway's HTTPS certificates).
import PackageDescription

let package = Package(
    name: "qmail-remote",
    products: [
        .library(name: "QmailRemote", targets: ["QmailRemote"]),
        .executable(name: "qmail-remote", targets: ["qmail-remote"]),
        .executable(name: "qmail-remote-httpd", targets: ["qmail-remote-httpd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CResolv", path: "Sources/CResolv"),
        // OpenSSL's headers at build time (libssl-dev); the libraries are
        // loaded at run time, only when a delivery uses TLS.
        .target(name: "CTLS", path: "Sources/CTLS", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(
            name: "CMicroHTTPD",
            path: "Sources/CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        .target(name: "QmailSupport"),
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            path: "Sources/CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(name: "CEpoll", path: "Sources/CEpoll"),
        // GnuTLS (libgnutls28-dev, which libmicrohttpd-dev brings): the
        // gateway's HTTPS certificate swap, client certificates and --probe.
        .target(name: "CGnuTLS", path: "Sources/CGnuTLS", linkerSettings: [.linkedLibrary("gnutls")]),
        .target(
            name: "QmailRemote",
            dependencies: ["QmailSupport", "CResolv", "CTLS"]
        ),
        .executableTarget(
            name: "qmail-remote",
            dependencies: ["QmailRemote", "QmailSupport"],
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
        // Fields -> RFC 5322/MIME bytes; depends on nothing, not even the core.
        .target(name: "MailComposer"),
        .target(
            name: "QmailRemoteHTTP",
            dependencies: [
                "QmailRemote", "QmailSupport", "MailComposer", "CMicroHTTPD", "CEpoll", "CSQLite", "CLibPQ", "CGnuTLS",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "qmail-remote-httpd",
            dependencies: [
                "QmailRemoteHTTP", "QmailRemote", "QmailSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The store under load and faults (kill -9, full disk, a server that goes
        // away): driven by Tests/e2e/test_store_*.py and bench/store.sh.
        .executableTarget(
            name: "store-load",
            dependencies: ["QmailRemoteHTTP"],
            path: "Tests/StoreLoad"
        ),
        .testTarget(
            name: "QmailSupportTests",
            dependencies: ["QmailSupport"]
        ),
        .testTarget(
            name: "QmailRemoteTests",
            dependencies: ["QmailRemote", "QmailSupport"]
        ),
        .testTarget(
            name: "QmailRemoteHTTPTests",
            dependencies: ["QmailRemoteHTTP", "QmailRemote", "QmailSupport", "MailComposer"]
        ),
        // Parsers/ holds the Python and Perl scripts the round-trip tests run.
        .testTarget(
            name: "MailComposerTests",
            dependencies: ["MailComposer"],
            exclude: ["Parsers"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
