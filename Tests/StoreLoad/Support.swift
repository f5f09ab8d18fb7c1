// Output, messages and time for store-load; nothing here is main-actor code.

import QmailRemoteHTTP

#if canImport(Glibc)
import Glibc
#endif

func say(_ line: String, to fd: Int32 = 1) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

func fail(_ line: String) -> Never {
    say(line, to: 2)
    exit(1)
}

/// The message for an id: its id in the subject, then filler to `size` bytes.
func message(for id: String, size: Int) -> [UInt8] {
    var bytes = Array("Subject: \(id)\n\n".utf8)
    while bytes.count < size { bytes.append(UInt8(ascii: "a") + UInt8(bytes.count % 26)) }
    return bytes
}

func openStore(_ text: String) -> DeliveryStore {
    do {
        var options = StoreOptions()
        if let writers = getenv("STORE_LOAD_POSTGRES_WRITERS").flatMap({ Int(String(cString: $0)) }) {
            options.postgresWriters = writers
        }
        return try DeliveryStore.open(StoreURL(parsing: text), options: options)
    } catch {
        fail("error \(error.reason.kind) \(error)")
    }
}

func monotonic() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
