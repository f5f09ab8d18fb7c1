// qmail-remote host sender recip [recip ...]: the entry point. All the work
// is in QmailRemoteCommand.swift; this file only hands it argv as bytes. A
// loop, not a closure: a closure in top-level code is MainActor-isolated and
// its isolation check would link Swift's concurrency runtime into the binary.

#if canImport(Glibc)
import Glibc
#endif

var argv: [[UInt8]] = []
argv.reserveCapacity(Int(CommandLine.argc))
for index in 0..<Int(CommandLine.argc) {
    let pointer = UnsafeRawPointer(CommandLine.unsafeArgv[index]!).assumingMemoryBound(to: UInt8.self)
    argv.append(Array(UnsafeBufferPointer(start: pointer, count: strlen(CommandLine.unsafeArgv[index]!))))
}
QmailRemoteCommand.run(argv)
