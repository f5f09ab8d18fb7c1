// A server reply code and the one place that decides what a code means.
// The code is read as qmail reads it: the first three bytes of the first line,
// each taken as (byte - '0') even when it is not a digit, in wrapping unsigned
// arithmetic, so garbage reads as a large (permanent) code.

/// What a reply to MAIL, RCPT, DATA or the final dot means for the delivery.
public enum ReplyVerdict: Sendable, Equatable {
    case accepted
    case temporary
    case permanent
}

public struct ReplyCode: Sendable, Equatable, Hashable {
    public let value: UInt64

    public init(value: UInt64) { self.value = value }

    /// Reads the code from the first bytes of a reply line. A byte the line
    /// does not have counts as NUL, which makes the code huge: permanent.
    public init(firstLine line: some Collection<UInt8>) {
        var code: UInt64 = 0
        var iterator = line.makeIterator()
        for _ in 0..<3 {
            let byte = UInt64(iterator.next() ?? 0)
            code = code &* 10 &+ (byte &- 48)
        }
        self.value = code
    }

    /// The greeting must be exactly 220.
    public var isGoodGreeting: Bool { value == 220 }
    /// HELO (and EHLO) must be answered with exactly 250.
    public var isGoodHello: Bool { value == 250 }

    /// MAIL, RCPT, DATA and the final dot: below 400 is success (a 250 to
    /// DATA counts as go-ahead), 4xx temporary, 500 and above permanent.
    public var verdict: ReplyVerdict {
        if value >= 500 { return .permanent }
        if value >= 400 { return .temporary }
        return .accepted
    }
}
