// The MTA-STS TXT record at _mta-sts.<domain> (RFC 8461 section 3.1):
// "v=STSv1; id=<1 to 32 letters or digits>;" and maybe other fields. Only
// its id matters: a new id means a new policy to fetch. Parsing only.

struct MTASTSRecord: Sendable, Equatable {
    let id: [UInt8]

    /// The one record among a name's TXT records: those not starting with
    /// "v=STSv1" are passed over; none, several, or a malformed one is nil.
    static func find(in texts: [[UInt8]]) -> MTASTSRecord? {
        let candidates = texts.filter { $0.starts(with: Array("v=STSv1".utf8)) }
        guard candidates.count == 1 else { return nil }
        return MTASTSRecord(text: candidates[0])
    }

    init?(text: [UInt8]) {
        var fields = text.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map {
            $0.drop { $0 == 32 || $0 == 9 }.reversed().drop { $0 == 32 || $0 == 9 }.reversed()
        }
        if fields.last?.isEmpty == true { fields.removeLast() }
        guard let first = fields.first, Array(first) == Array("v=STSv1".utf8) else { return nil }
        var id: [UInt8]?
        for field in fields.dropFirst() {
            let bytes = Array(field)
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")), equals > 0 else { return nil }
            if bytes[..<equals].elementsEqual("id".utf8) {
                let value = Array(bytes[(equals + 1)...])
                let alphanumeric = value.allSatisfy {
                    ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122)
                }
                guard !value.isEmpty, value.count <= 32, alphanumeric else { return nil }
                id = value
            }
        }
        guard let id else { return nil }
        self.id = id
    }
}
