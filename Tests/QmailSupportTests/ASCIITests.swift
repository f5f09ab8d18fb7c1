// ASCII byte tests: control bytes and case folding of A-Z only.

import QmailSupport
import Testing

@Suite struct ASCIITests {
    @Test func controlBytes() {
        for byte in (0..<32).map(UInt8.init) + [127] { #expect(ASCII.isControl(byte)) }
        for byte in (32..<127).map(UInt8.init) + [128, 255] { #expect(!ASCII.isControl(byte)) }
        #expect(ASCII.containsControl(Array("a\tb".utf8)) && !ASCII.containsControl(Array("a b".utf8)))
    }

    @Test func onlyAToZFold() {
        #expect(ASCII.lowercased(Array("MX.Example.TEST-@[Z]".utf8)) == Array("mx.example.test-@[z]".utf8))
        #expect(ASCII.lowercased([0xC3, 0x89, 0x40, 0x5B]) == [0xC3, 0x89, 0x40, 0x5B])
    }
}
