// Writing all bytes to descriptors: through a pipe in pieces, to a socket
// whose peer is gone (an error, never SIGPIPE), and to a closed descriptor.

import QmailSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct DescriptorTests {
    @Test func everyByteThroughAPipe() async throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        let reader = Task.detached { [fds] in
            var all: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(fds[0], &chunk, chunk.count)
                if count <= 0 { return all }
                all += chunk[0..<count]
            }
        }
        try Descriptor.writeAll(bytes, to: fds[1])
        close(fds[1])
        let received = await reader.value
        close(fds[0])
        #expect(received == bytes)
    }

    @Test func aSocketWithoutPeerIsAnErrorNotASignal() {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        close(fds[1])
        #expect(throws: Descriptor.WriteFailure(errno: EPIPE)) {
            try Descriptor.writeAll(Array("x".utf8), to: fds[0], socket: true)
        }
        close(fds[0])
        #expect(throws: Descriptor.WriteFailure(errno: EBADF)) { try Descriptor.writeAll(Array("x".utf8), to: fds[0]) }
    }
}
