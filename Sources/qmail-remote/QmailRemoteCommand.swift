// The qmail-remote command: argv to a DeliveryRequest, stdin to the message,
// the DeliveryReport to stdout in qmail's bytes, exit 0 always. Stdout carries
// reports only; the one diagnostic line for a broken installation goes to stderr.

import QmailRemote
#if canImport(Glibc)
import Glibc
#endif

enum QmailRemoteCommand {
    static func run(_ argv: [[UInt8]]) -> Never {
        signal(SIGPIPE, SIG_IGN)
        guard argv.count >= 4 else { finish(DeliveryReport(failure: LocalFailure.invokedImproperly.report)) }

        let environment = Environment.process
        let configuration: Configuration
        do {
            configuration = try Configuration.load(environment: environment)
        } catch {
            writeAll(Array("qmail-remote: \(error.diagnostic)\n".utf8), to: 2)
            finish(DeliveryReport(failure: error.failure.report))
        }
        guard chdir(environment.qmailHome) == 0 else {
            finish(DeliveryReport(failure: LocalFailure.noHomeDirectory.report))
        }

        let request = DeliveryRequest(host: argv[1], sender: argv[2], recipients: Array(argv[3...]))
        finish(RemoteDelivery.deliver(request, message: FileDescriptorMessage(fd: 0), configuration: configuration))
    }

    private static func finish(_ report: DeliveryReport) -> Never {
        writeAll(report.qmailBytes, to: 1)
        exit(0)
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}
