// Fetching an MTA-STS policy (RFC 8461 section 3.3): GET
// https://mta-sts.<domain>/.well-known/mta-sts.txt at addresses our own
// resolver found, the certificate checked against the system's CAs (or
// control/mtastscafile), no redirects, 64 KiB and a time limit, 200 and
// text/plain only. HTTPSPolicyFetcher is the real one (libcurl, loaded on
// first use); unit tests give their own.

import QmailSupport

internal import CCurl

/// Why no policy came; `reason` is for a log or a report.
struct PolicyFetchFailure: Error, Sendable, Equatable {
    let reason: String
}

protocol PolicyFetcher: Sendable {
    /// The body of the policy of `domain`, served at one of `addresses`.
    func fetch(
        _ domain: [UInt8], addresses: [IPAddress], caFile: String?, timeout: Int, connectTimeout: Int
    ) -> Result<[UInt8], PolicyFetchFailure>
}

struct HTTPSPolicyFetcher: PolicyFetcher {
    /// The most a policy may be (RFC 8461 3.3 suggests 64 KiB).
    static let sizeLimit = 65536

    func fetch(
        _ domain: [UInt8], addresses: [IPAddress], caFile: String?, timeout: Int, connectTimeout: Int
    ) -> Result<[UInt8], PolicyFetchFailure> {
        guard !addresses.isEmpty else { return .failure(PolicyFetchFailure(reason: "no address")) }
        let host = "mta-sts." + String(decoding: domain, as: UTF8.self)
        let url = "https://" + host + "/.well-known/mta-sts.txt"
        let resolve =
            host + ":443:" + addresses.map { $0.family == .v6 ? "[\($0)]" : "\($0)" }.joined(separator: ",")
        var body = [UInt8](repeating: 0, count: Self.sizeLimit)
        var length = 0
        var response = ccurl_response()
        let done = ccurl_get(
            url, resolve, caFile, max(1, timeout), max(1, connectTimeout), &body, body.count, &length, &response)
        if response.too_large != 0 {
            return .failure(PolicyFetchFailure(reason: "the policy is larger than \(Self.sizeLimit) bytes"))
        }
        guard done == 1 else { return .failure(PolicyFetchFailure(reason: Self.text(&response.error))) }
        guard response.status == 200 else {
            let redirect = (300..<400).contains(response.status)
            return .failure(
                PolicyFetchFailure(
                    reason: "HTTP status \(response.status)\(redirect ? " (redirects are not followed)" : "")"))
        }
        let type = Self.text(&response.content_type).lowercased()
        guard type == "text/plain" || type.hasPrefix("text/plain;") || type.hasPrefix("text/plain ") else {
            return .failure(PolicyFetchFailure(reason: "Content-Type is not text/plain"))
        }
        return .success(Array(body[0..<length]))
    }

    /// A C char array field as text.
    private static func text<T>(_ field: inout T) -> String {
        withUnsafeBytes(of: &field) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
