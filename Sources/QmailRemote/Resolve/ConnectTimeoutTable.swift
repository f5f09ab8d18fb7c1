// qmail's connect-timeout table ($QMAILHOME/queue/lock/tcpto), in qmail's own
// format so qmail-tcpto and qmail-tcpok keep working: up to 64 records of 16
// bytes (IPv4 address, timeout count, last time little-endian at 8..11). Every
// access holds an exclusive flock; a change rewrites one record in place.

#if canImport(Glibc)
import Glibc
#endif

public struct ConnectTimeoutTable: Sendable {
    public let path: String

    static let recordSize = 16
    static let tableSize = 1024
    /// A second time-out within this many seconds of the last counts nothing.
    static let minimumGap: UInt32 = 120

    public init(path: String) { self.path = path }

    /// What the table says of one address.
    public enum Verdict: Sendable, Equatable {
        /// Not in the table (or no table): try it, nothing to clear after.
        case unknown
        /// In the table with time-outs, but not skipped: clear it on success.
        case timedOutBefore
        /// Timed out at least twice, the last time less than about an hour
        /// ago ((60 + pid % 32) * 64 seconds, as qmail spreads it): skip it.
        case skip
    }

    public func verdict(for address: IPAddress, now: UInt32? = nil, pid: Int32? = nil) -> Verdict {
        withLockedTable { table, _ -> Verdict in
            guard let index = Self.find(address, in: table) else { return .unknown }
            let record = index * Self.recordSize
            guard table[record + 4] > 0 else { return .unknown }
            guard table[record + 4] >= 2 else { return .timedOutBefore }
            let when = Self.time(in: table, at: record)
            let recent = (now ?? Self.now()) &- when < UInt32((60 + ((pid ?? getpid()) & 31)) << 6)
            return recent ? .skip : .timedOutBefore
        } ?? .unknown
    }

    /// A connect to `address` succeeded: forget its time-outs.
    public func recordSuccess(_ address: IPAddress) {
        _ = withLockedTable { table, fd in
            guard let index = Self.find(address, in: table) else { return false }
            let record = index * Self.recordSize
            guard table[record + 4] != 0 else { return false }
            table[record + 4] = 0
            Self.write(table, record: index, to: fd)
            return true
        }
    }

    /// A connect to `address` timed out.
    public func recordTimeout(_ address: IPAddress, now: UInt32 = Self.now()) {
        _ = withLockedTable { table, fd in
            let count = table.count / Self.recordSize
            var index: Int
            if let existing = Self.find(address, in: table) {
                index = existing
                let record = index * Self.recordSize
                if table[record + 4] != 0 && now < Self.time(in: table, at: record) &+ Self.minimumGap { return false }
                table[record + 4] = min(table[record + 4] &+ 1, 10)
            } else {
                // A free record, else the one whose weighted age is oldest.
                index = (0..<count).first { table[$0 * Self.recordSize + 4] == 0 } ?? (0..<count).min {
                    Self.weightedTime(table, $0) < Self.weightedTime(table, $1)
                }!
                let record = index * Self.recordSize
                let bytes = address.bytes
                table[record] = bytes.0; table[record + 1] = bytes.1
                table[record + 2] = bytes.2; table[record + 3] = bytes.3
                table[record + 4] = 1
            }
            let record = index * Self.recordSize
            table[record + 8] = UInt8(now & 0xff); table[record + 9] = UInt8(now >> 8 & 0xff)
            table[record + 10] = UInt8(now >> 16 & 0xff); table[record + 11] = UInt8(now >> 24)
            Self.write(table, record: index, to: fd)
            return true
        }
    }

    public static func now() -> UInt32 { UInt32(truncatingIfNeeded: Glibc.time(nil)) }

    /// Runs `body` on the table's whole records under an exclusive lock. A
    /// missing, unreadable or empty table gives nil: it has no effect.
    private func withLockedTable<T>(_ body: (inout [UInt8], Int32) -> T) -> T? {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { return nil }
        var table = [UInt8](repeating: 0, count: Self.tableSize)
        let count = pread(fd, &table, table.count, 0)
        guard count >= Self.recordSize else { return nil }
        table.removeLast(table.count - count / Self.recordSize * Self.recordSize)
        return body(&table, fd)
    }

    private static func find(_ address: IPAddress, in table: [UInt8]) -> Int? {
        let bytes = address.bytes
        return (0..<(table.count / recordSize)).first {
            let r = $0 * recordSize
            return table[r] == bytes.0 && table[r + 1] == bytes.1 && table[r + 2] == bytes.2 && table[r + 3] == bytes.3
        }
    }

    private static func time(in table: [UInt8], at record: Int) -> UInt32 {
        UInt32(table[record + 8]) | UInt32(table[record + 9]) << 8
            | UInt32(table[record + 10]) << 16 | UInt32(table[record + 11]) << 24
    }

    private static func weightedTime(_ table: [UInt8], _ index: Int) -> UInt64 {
        let record = index * recordSize
        return UInt64(time(in: table, at: record)) + UInt64(table[record + 4]) << 10
    }

    private static func write(_ table: [UInt8], record index: Int, to fd: Int32) {
        let offset = index * recordSize
        _ = table[offset..<(offset + recordSize)].withUnsafeBytes {
            pwrite(fd, $0.baseAddress, recordSize, off_t(offset))
        }
    }
}
