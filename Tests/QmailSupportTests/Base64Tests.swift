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
}
