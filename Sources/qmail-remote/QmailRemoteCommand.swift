// The qmail-remote command: argv to a DeliveryRequest, stdin to the message,
// the DeliveryReport to stdout in qmail's bytes, exit 0 always. Stdout carries
// reports only; the one diagnostic line for a broken installation goes to stderr.

import QmailRemote
import QmailSupport

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
            try? Descriptor.writeAll(Array("qmail-remote: \(error.diagnostic)\n".utf8), to: 2)
            finish(DeliveryReport(failure: error.failure.report))
        }
        guard chdir(environment.qmailHome) == 0 else {
            finish(DeliveryReport(failure: LocalFailure.noHomeDirectory.report))
        }

        let request = DeliveryRequest(host: argv[1], sender: argv[2], recipients: Array(argv[3...]))
        finish(RemoteDelivery.deliver(request, message: FileDescriptorMessage(fd: 0), configuration: configuration))
    }

    private static func finish(_ report: DeliveryReport) -> Never {
        if let diagnostic = report.diagnostic {
            try? Descriptor.writeAll(Array("qmail-remote: \(diagnostic)\n".utf8), to: 2)
        }
        try? Descriptor.writeAll(report.qmailBytes, to: 1)
        exit(0)
    }
}
