// The control-file reader on real files: lines with trailing blanks and CR
// stripped, missing files, numbers, directories, and files that are errors.

import QmailSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ControlFileTests {
    let directory: String

    init() {
        var template = Array("/tmp/controlfile-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try? Descriptor.writeAll(bytes, to: fd)
        close(fd)
        return path
    }

    @Test func linesLoseTrailingBlanksAndCR() throws {
        let path = write("routes", Array("a:b \t\r\n\nc:d\r\r\nlast".utf8))
        #expect(try ControlFile.lines(at: path) == [Array("a:b".utf8), [], Array("c:d".utf8), Array("last".utf8)])
        #expect(try ControlFile.firstLine(at: write("empty", [])) == [])
        #expect(try ControlFile.lines(at: directory + "/missing") == nil)
    }

    @Test func numbersFromLeadingDigits() throws {
        #expect(try ControlFile.number(at: write("n1", Array("42xyz\n".utf8)), fallback: 7) == 42)
        #expect(try ControlFile.number(at: write("n2", Array("x42\n".utf8)), fallback: 7) == 7)
        #expect(try ControlFile.number(at: directory + "/missing", fallback: 7) == 7)
        #expect(
            try ControlFile.number(at: write("n3", Array("99999999999999999999\n".utf8)), fallback: 7) == 1_000_000_000)
    }

    @Test func directoriesAndErrors() throws {
        _ = write("one", [])
        #expect(try ControlFile.entries(in: directory)?.contains(Array("one".utf8)) == true)
        #expect(try ControlFile.entries(in: directory + "/missing") == nil)
        // A directory where a file should be cannot be read: an error, not "missing".
        #expect(throws: ControlError.self) { try ControlFile.lines(at: directory) }
        #expect(throws: ControlError.self) {
            try ControlFile.lines(at: write("huge", [UInt8](repeating: 65, count: (1 << 20) + 1)))
        }
    }
}
