// qmail's connect-timeout table: $QMAILHOME/queue/lock/tcpto in qmail's own
// format, so qmail-tcpto and qmail-tcpok keep working (up to 64 records of 16
// bytes: IPv4 address, time-out count at 4, last time little-endian at 8..11),
// and for IPv6 its sibling tcpto6 (64 records of 32 bytes: address, count at
// 16, time at 24..27). Every access holds an exclusive flock; a change
// rewrites one record in place. A missing IPv4 table is no table, as in
// qmail; tcpto6, ours, is made (all records free) by the first IPv6 time-out
// where the directory allows it.

import QmailSupport

#if canImport(Glibc)
import Glibc
#endif

struct ConnectTimeoutTable: Sendable {
    /// The IPv4 table; the IPv6 one is the same path with "6" appended.
    let path: String

    /// A second time-out within this many seconds of the last counts nothing.
    static let minimumGap: UInt32 = 120
    static let records = 64

    /// Where the fields of a record are, per address family.
    struct Layout {
        let recordSize: Int
        let addressSize: Int
        let countOffset: Int
        let timeOffset: Int

        static let v4 = Layout(recordSize: 16, addressSize: 4, countOffset: 4, timeOffset: 8)
        static let v6 = Layout(recordSize: 32, addressSize: 16, countOffset: 16, timeOffset: 24)
    }

    init(path: String) { self.path = path }

    /// What the table says of one address.
    enum Verdict: Sendable, Equatable {
        /// Not in the table (or no table): try it, nothing to clear after.
        case unknown
        /// In the table with time-outs, but not skipped: clear it on success.
        case timedOutBefore
        /// Timed out at least twice, the last time less than about an hour
        /// ago ((60 + pid % 32) * 64 seconds, as qmail spreads it): skip it.
        case skip
    }

    func verdict(for address: IPAddress, now: UInt32? = nil, pid: Int32? = nil) -> Verdict {
        withLockedTable(for: address) { table, layout, _ -> Verdict in
            guard let record = Self.find(address, in: table, layout) else { return .unknown }
            let count = table[record + layout.countOffset]
            guard count > 0 else { return .unknown }
            guard count >= 2 else { return .timedOutBefore }
            let when = Self.time(in: table, at: record + layout.timeOffset)
            let recent = (now ?? Self.now()) &- when < UInt32((60 + ((pid ?? getpid()) & 31)) << 6)
            return recent ? .skip : .timedOutBefore
        } ?? .unknown
    }

    /// A connect to `address` succeeded: forget its time-outs.
    func recordSuccess(_ address: IPAddress) {
        _ = withLockedTable(for: address) { table, layout, fd in
            guard let record = Self.find(address, in: table, layout), table[record + layout.countOffset] != 0 else {
                return
            }
            table[record + layout.countOffset] = 0
            Self.write(table, record: record, layout, to: fd)
        }
    }

    /// A connect to `address` timed out.
    func recordTimeout(_ address: IPAddress, now: UInt32 = Self.now()) {
        _ = withLockedTable(for: address, creating: address.family == .v6) { table, layout, fd in
            let starts = stride(from: 0, to: table.count, by: layout.recordSize)
            let record: Int
            if let existing = Self.find(address, in: table, layout) {
                record = existing
                let count = table[record + layout.countOffset]
                if count != 0 && now < Self.time(in: table, at: record + layout.timeOffset) &+ Self.minimumGap {
                    return
                }
                table[record + layout.countOffset] = min(count &+ 1, 10)
            } else {
                // A free record, else the one whose weighted age is oldest.
                func weighted(_ start: Int) -> UInt64 {
                    UInt64(Self.time(in: table, at: start + layout.timeOffset)) + UInt64(
                        table[start + layout.countOffset]) << 10
                }
                record =
                    starts.first { table[$0 + layout.countOffset] == 0 } ?? starts.min { weighted($0) < weighted($1) }!
                table.replaceSubrange(record..<(record + layout.addressSize), with: address.bytes)
                table[record + layout.countOffset] = 1
            }
            let time = record + layout.timeOffset
            table[time] = UInt8(now & 0xff); table[time + 1] = UInt8(now >> 8 & 0xff)
            table[time + 2] = UInt8(now >> 16 & 0xff); table[time + 3] = UInt8(now >> 24)
            Self.write(table, record: record, layout, to: fd)
        }
    }

    static func now() -> UInt32 { UInt32(truncatingIfNeeded: Glibc.time(nil)) }

    /// Runs `body` on the table's whole records under an exclusive lock. A
    /// missing, unreadable or empty table gives nil: it has no effect; with
    /// `creating`, a missing or short one is made whole with free records.
    private func withLockedTable<T>(
        for address: IPAddress, creating: Bool = false, _ body: (inout [UInt8], Layout, Int32) -> T
    ) -> T? {
        let layout = address.family == .v4 ? Layout.v4 : Layout.v6
        let fd = open(address.family == .v4 ? path : path + "6", O_RDWR | O_CLOEXEC | (creating ? O_CREAT : 0), 0o644)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { return nil }
        var table = [UInt8](repeating: 0, count: layout.recordSize * Self.records)
        let count = pread(fd, &table, table.count, 0)
        if creating && count >= 0 {
            if count < table.count { _ = pwrite(fd, &table, table.count, 0) }
            return body(&table, layout, fd)
        }
        guard count >= layout.recordSize else { return nil }
        table.removeLast(table.count - count / layout.recordSize * layout.recordSize)
        return body(&table, layout, fd)
    }

    /// The start of the record holding `address`.
    private static func find(_ address: IPAddress, in table: [UInt8], _ layout: Layout) -> Int? {
        stride(from: 0, to: table.count, by: layout.recordSize).first {
            table[$0..<($0 + layout.addressSize)].elementsEqual(address.bytes)
        }
    }

    private static func time(in table: [UInt8], at offset: Int) -> UInt32 {
        UInt32(table[offset]) | UInt32(table[offset + 1]) << 8 | UInt32(table[offset + 2]) << 16 | UInt32(
            table[offset + 3]) << 24
    }

    private static func write(_ table: [UInt8], record: Int, _ layout: Layout, to fd: Int32) {
        _ = table[record..<(record + layout.recordSize)].withUnsafeBytes {
            pwrite(fd, $0.baseAddress, layout.recordSize, off_t(record))
        }
    }
}
