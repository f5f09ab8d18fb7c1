// The caller's say over which addresses a delivery may connect to (the
// gateway's outbound destination policy; the command passes none and keeps
// qmail's behaviour). Asked for every address reached through the host: a
// literal, or MX/A/AAAA answers. Relays chosen by control/smtproutes are the
// installation's choice and are never asked about.

import QmailSupport

public struct DestinationFilter: Sendable {
    /// nil: the address may be used; otherwise what it is, as a phrase
    /// ("a loopback address"), for the report.
    public let refusal: @Sendable (IPAddress) -> String?

    public init(refusal: @escaping @Sendable (IPAddress) -> String?) { self.refusal = refusal }

    /// The servers the filter lets through, in order, or the report for the
    /// first refused one when it refuses them all.
    func apply(to servers: [Destination]) -> Result<[Destination], LocalFailure> {
        var kept: [Destination] = []
        var firstRefused: (IPAddress, String)?
        for server in servers {
            if let reason = refusal(server.address) {
                if firstRefused == nil { firstRefused = (server.address, reason) }
            } else {
                kept.append(server)
            }
        }
        if kept.isEmpty, let (address, reason) = firstRefused {
            return .failure(.destinationNotAllowed(address, reason: reason))
        }
        return .success(kept)
    }
}
