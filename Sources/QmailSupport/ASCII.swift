// Byte tests and case folding on ASCII text, the way mail protocols compare
// names: only A-Z fold, every other byte stays as it is. No locale, no
// Unicode: hosts, keywords and control-file values are bytes.

public enum ASCII {
    /// A byte below 32 (CR, LF, NUL, tab...) or DEL: never part of a command line.
    @inlinable public static func isControl(_ byte: UInt8) -> Bool { byte < 32 || byte == 127 }

    /// Whether any byte is a control byte.
    @inlinable public static func containsControl(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.contains(where: isControl)
    }

    /// A-Z to a-z; nothing else changes.
    @inlinable public static func lowercased(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
    }

}
