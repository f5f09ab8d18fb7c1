// swift-tools-version: 6.0
// The qmail-remote package: the delivery core (QmailRemote), the drop-in
// qmail-remote command, and the system resolver bridge (CResolv).
import PackageDescription

let package = Package(
    name: "qmail-remote",
    products: [
        .library(name: "QmailRemote", targets: ["QmailRemote"]),
        .executable(name: "qmail-remote", targets: ["qmail-remote"]),
    ],
    targets: [
        .systemLibrary(name: "CResolv", path: "Sources/CResolv"),
        .target(
            name: "QmailRemote",
            dependencies: ["CResolv"]
        ),
        .executableTarget(
            name: "qmail-remote",
            dependencies: ["QmailRemote"],
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
        .testTarget(
            name: "QmailRemoteTests",
            dependencies: ["QmailRemote"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
