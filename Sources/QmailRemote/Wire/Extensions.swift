// The ESMTP extensions a server announced in its EHLO reply: every line after
// the first is a keyword, maybe with parameters. Keywords compare without
// case; parameters are kept as sent.

struct Extensions: Sendable, Equatable {
    private var keywords: [String: String] = [:]

    init() {}

    /// Parses a 250 reply to EHLO (its text: lines with their codes).
    init(ehloReply reply: Reply) {
        let lines = reply.text.split(separator: 10, omittingEmptySubsequences: true)
        for line in lines.dropFirst() where line.count > 4 {
            let body = line.dropFirst(4)
            let keyword = body.prefix { $0 != 32 }
            let parameters = body.dropFirst(keyword.count).drop { $0 == 32 }
            guard !keyword.isEmpty else { continue }
            keywords[String(decoding: keyword, as: UTF8.self).uppercased()] = String(
                decoding: parameters, as: UTF8.self)
        }
    }

    func has(_ keyword: String) -> Bool { keywords[keyword.uppercased()] != nil }

    /// The parameters after a keyword ("" when none), nil when not offered.
    func parameters(of keyword: String) -> String? { keywords[keyword.uppercased()] }

    /// SIZE's announced limit: nil when SIZE is not offered or has no (or a
    /// zero, meaning no) limit.
    var sizeLimit: Int? {
        guard let text = parameters(of: "SIZE"), let limit = Int(text.split(separator: " ").first ?? ""), limit > 0
        else {
            return nil
        }
        return limit
    }
}
