// Lists of byte strings in one column (headers, report sequences): each field
// as a 4-byte big-endian length and its bytes. Any bytes at all survive,
// NULs included. Not a general serializer.

enum FieldCodec {
    static func encode(_ fields: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + 4 + $1.count })
        for field in fields {
            let count = UInt32(field.count)
            bytes += [UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
            bytes += field
        }
        return bytes
    }

    /// Stops at the first field that does not fit (a damaged value gives fewer fields).
    static func decode(_ bytes: [UInt8]) -> [[UInt8]] {
        var fields: [[UInt8]] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            let count =
                Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
                | Int(bytes[offset + 3])
            offset += 4
            guard offset + count <= bytes.count else { break }
            fields.append(Array(bytes[offset..<offset + count]))
            offset += count
        }
        return fields
    }
}
