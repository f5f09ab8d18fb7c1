// One complete server reply: its code and its text as qmail keeps it for
// reports (CRs dropped, cut at 5000 bytes). Parsing lives in ReplyReader,
// meaning in ReplyCode.

struct Reply: Sendable, Equatable {
    /// The most reply text kept for a report, in bytes.
    static let textLimit = 5000

    let code: ReplyCode
    /// Every line of the reply with its LF, CRs removed, cut at `textLimit`.
    let text: [UInt8]

    init(code: ReplyCode, text: [UInt8]) {
        self.code = code
        self.text = text
    }
}
