// swift-tools-version: 6.0
// The qmail-remote package: the delivery core (QmailRemote), the drop-in
// qmail-remote command, the HTTP gateway (QmailRemoteHTTP, qmail-remote-httpd)
// and the C bridges (CResolv: glibc's resolver; CTLS: OpenSSL; CMicroHTTPD:
// libmicrohttpd; CEpoll: epoll and friends for the gateway's acceptor).
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
        .systemLibrary(name: "CEpoll", path: "Sources/CEpoll"),
        .target(
            name: "QmailRemote",
            dependencies: ["CResolv", "CTLS"]
        ),
        .executableTarget(
            name: "qmail-remote",
            dependencies: ["QmailRemote"],
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
        .target(
            name: "QmailRemoteHTTP",
            dependencies: [
                "QmailRemote", "CMicroHTTPD", "CEpoll",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "qmail-remote-httpd",
            dependencies: [
                "QmailRemoteHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "QmailRemoteTests",
            dependencies: ["QmailRemote"]
        ),
        .testTarget(
            name: "QmailRemoteHTTPTests",
            dependencies: ["QmailRemoteHTTP"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
