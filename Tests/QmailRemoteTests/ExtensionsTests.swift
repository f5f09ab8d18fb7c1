// EHLO keyword parsing: keywords without case, parameters kept, SIZE's limit.

import Testing

@testable import QmailRemote

@Suite struct ExtensionsTests {
    @Test func keywordsIgnoreCaseAndParametersAreKept() {
        let reply = Reply(
            code: ReplyCode(value: 250),
            text: Array("250-mx.test hi\n250-pipelining\n250-SIZE 1000\n250-Auth PLAIN LOGIN\n250 8bitmime\n".utf8))
        let extensions = Extensions(ehloReply: reply)
        #expect(extensions.has("PIPELINING") && extensions.has("8BITMIME") && extensions.has("auth"))
        #expect(extensions.parameters(of: "AUTH") == "PLAIN LOGIN")
        #expect(extensions.sizeLimit == 1000)
        #expect(!extensions.has("MX.TEST"))
    }

    @Test func sizeWithoutOrWithZeroLimitHasNone() {
        for text in ["250-x\n250 SIZE\n", "250-x\n250 SIZE 0\n", "250-x\n250 SIZE lots\n"] {
            #expect(Extensions(ehloReply: Reply(code: ReplyCode(value: 250), text: Array(text.utf8))).sizeLimit == nil)
        }
    }
}
