// ReplyCode: qmail's arithmetic on the first three bytes, and the one table
// of what a code means at every step of the conversation.

import Testing

@testable import QmailRemote

@Suite struct ReplyCodeTests {
    @Test func digitsReadAsNumber() {
        #expect(ReplyCode(firstLine: Array("250 ok".utf8)).value == 250)
        #expect(ReplyCode(firstLine: Array("421".utf8)).value == 421)
    }

    @Test func nonDigitsStillCountAsBytesMinusZero() {
        // 'a' - '0' = 49: 49*100 + 50*10 + 51 = 5451, a permanent code.
        #expect(ReplyCode(firstLine: Array("abc".utf8)).value == 5451)
        #expect(ReplyCode(firstLine: Array("abc".utf8)).verdict(at: .mail) == .permanent)
    }

    @Test func shortFirstLineIsPermanentNotSuccess() {
        #expect(ReplyCode(firstLine: Array("2".utf8)).verdict(at: .recipient) == .permanent)
        #expect(ReplyCode(firstLine: []).verdict(at: .finalDot) == .permanent)
    }

    /// Codes worth trying at each step, and what each means there.
    static let table: [(SMTPStep, [(UInt64, ReplyVerdict)])] = [
        (.greeting, [(220, .accepted), (221, .temporary), (250, .temporary), (421, .temporary), (554, .temporary)]),
        (
            .firstEHLO,
            [
                (250, .accepted), (251, .temporary), (220, .temporary), (421, .temporary), (451, .permanent),
                (500, .permanent), (502, .permanent), (554, .permanent),
            ]
        ),
        (.hello, [(250, .accepted), (251, .temporary), (421, .temporary), (502, .temporary)]),
        (.startTLS, [(220, .accepted), (250, .temporary), (454, .temporary), (502, .temporary)]),
        (.authChallenge, [(334, .accepted), (235, .permanent), (454, .permanent), (535, .permanent)]),
        (
            .authResult,
            [
                (235, .accepted), (250, .accepted), (199, .permanent), (300, .permanent), (334, .permanent),
                (535, .permanent),
            ]
        ),
        (.reset, [(250, .accepted), (421, .temporary), (500, .permanent)]),
        (.mail, [(250, .accepted), (399, .accepted), (400, .temporary), (499, .temporary), (500, .permanent)]),
        (.recipient, [(250, .accepted), (251, .accepted), (421, .temporary), (550, .permanent)]),
        (.data, [(354, .accepted), (250, .accepted), (451, .temporary), (554, .permanent)]),
        (.finalDot, [(250, .accepted), (452, .temporary), (552, .permanent), (999, .permanent)]),
    ]

    @Test func everyStepHasItsMeanings() {
        #expect(Set(Self.table.map { "\($0.0)" }) == Set(SMTPStep.allCases.map { "\($0)" }))
        for (step, codes) in Self.table {
            for (code, verdict) in codes {
                #expect(ReplyCode(value: code).verdict(at: step) == verdict, "\(code) at \(step)")
            }
        }
    }
}
