// qmail-remote host sender recip [recip ...]: the entry point. All the work
// is in QmailRemoteCommand.swift; this file only hands it argv as bytes.

#if canImport(Glibc)
import Glibc
#endif

let argv = (0..<Int(CommandLine.argc)).map { index in
    let pointer = CommandLine.unsafeArgv[index]!
    return Array(
        UnsafeBufferPointer(
            start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
            count: strlen(pointer)))
}
QmailRemoteCommand.run(argv)
