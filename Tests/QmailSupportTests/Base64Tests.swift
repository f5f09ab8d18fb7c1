// Base64 (RFC 4648): round trips, the test vectors, and strict decoding.

import QmailSupport
import Testing

@Suite struct Base64Tests {
    @Test func roundTrip() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "\u{0}user\u{0}pass"] {
            let bytes = Array(text.utf8)
            #expect(Base64.decode(bytes: Base64.encode(bytes)) == bytes)
        }
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(String(decoding: Base64.encode(Array(plain.utf8)), as: UTF8.self) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func strictDecodingRefusesEverythingElse() {
        for bad in ["Zg", "Zg=", "Z===", "Zm9v\n", "Zm 9v", "Zg==Zg==", "Zh==", "Zm9=", "Zm-v", "=Zm9"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func everyLengthRoundTripsAndAnyBadSymbolIsRefused() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
        for length in 0...200 {
            let bytes = (0..<length).map { _ in next() }
            let encoded = Base64.encode(bytes)
            #expect(Base64.decode(bytes: encoded) == bytes)
            guard !encoded.isEmpty else { continue }
            for bad in [UInt8(ascii: "-"), UInt8(ascii: "\n"), 0, 0xC3] {
                var broken = encoded
                broken[Int(next()) % broken.count] = bad
                #expect(Base64.decode(bytes: broken) == nil)
            }
            var early = encoded
            early[Int(next()) % max(1, early.count - 4)] = UInt8(ascii: "=")
            if early.count > 4 { #expect(Base64.decode(bytes: early) == nil) }
        }
    }
}
