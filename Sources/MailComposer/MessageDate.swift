// The Date field's value (RFC 5322 3.3) from a moment and the UTC offset to
// print it in, both given by the caller's clock: "Thu, 13 Feb 2025 14:03:05 +0100".
// Pure arithmetic on the proleptic Gregorian calendar; no time zone database.

public struct MessageDate: Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var secondsSinceEpoch: Int64
    /// The local time's offset east of UTC, in seconds (whole minutes are printed).
    public var utcOffsetSeconds: Int

    public init(secondsSinceEpoch: Int64, utcOffsetSeconds: Int = 0) {
        self.secondsSinceEpoch = secondsSinceEpoch
        // Offsets beyond ±23:59 cannot be written in four digits.
        self.utcOffsetSeconds = max(-86_340, min(86_340, utcOffsetSeconds))
    }

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The field value as bytes.
    public var rendered: [UInt8] {
        let offsetMinutes = utcOffsetSeconds / 60
        let local = secondsSinceEpoch + Int64(offsetMinutes * 60)
        let (days, secondOfDay) = floorDivide(local, 86_400)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let weekday = Int(floorDivide(days, 7).remainder)

        var out: [UInt8] = []
        out.reserveCapacity(31)
        out.append(contentsOf: Self.weekdays[weekday].utf8)
        out.append(contentsOf: ", ".utf8)
        appendDigits(Int64(day), width: 2, to: &out)
        out.append(0x20)
        out.append(contentsOf: Self.months[month - 1].utf8)
        out.append(0x20)
        appendDigits(year, width: 4, to: &out)
        out.append(0x20)
        appendDigits(secondOfDay / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, width: 2, to: &out)
        out.append(0x20)
        out.append(offsetMinutes < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        appendDigits(Int64(abs(offsetMinutes) / 60), width: 2, to: &out)
        appendDigits(Int64(abs(offsetMinutes) % 60), width: 2, to: &out)
        return out
    }

    /// Year, month (1-12) and day (1-31) of a day counted from 1970-01-01,
    /// by counting 400-year eras of 146097 days that start on March 1st.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468  // days from 0000-03-01
        let (era, dayOfEra) = floorDivide(shifted, 146_097)
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1)
        let month = Int(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}

private func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
    var quotient = value / divisor
    var remainder = value % divisor
    if remainder < 0 {
        quotient -= 1
        remainder += divisor
    }
    return (quotient, remainder)
}

private func appendDigits(_ value: Int64, width: Int, to out: inout [UInt8]) {
    let value = max(0, value)
    var divisor: Int64 = 1
    var digits = 1
    while divisor <= value / 10 {
        divisor *= 10
        digits += 1
    }
    for _ in digits..<max(width, digits) { out.append(48) }
    while divisor > 0 {
        out.append(UInt8(48 + value / divisor % 10))
        divisor /= 10
    }
}
