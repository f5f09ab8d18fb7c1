// String values written into a SpooledBytes as the JSON reader reads them:
// as they are (a message, a text), or decoded from base64 with the core's
// strict decoder. Shared by the JSON forms of POST /v1/deliveries and POST
// /v1/messages; neither the reading nor the checks of fields are here.

import QmailSupport

/// A string as it is (the message field, a text), staged in pieces into its store.
struct TextSink: JSONStringSink {
    let store: SpooledBytes
    private var staged: [UInt8] = []

    init(_ store: SpooledBytes) { self.store = store }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        staged.append(contentsOf: bytes)
        if staged.count >= 65536 { flush() }
    }

    mutating func flush() {
        if !staged.isEmpty { store.append(staged) }
        staged.removeAll(keepingCapacity: true)
    }
}

/// message_base64 (or an attachment's content_base64), decoded a piece at a
/// time with the core's strict decoder: padding is allowed only in the very last quad.
struct Base64Sink: JSONStringSink {
    let store: SpooledBytes
    private var pending: [UInt8] = []
    private(set) var invalid = false
    /// The base64 characters received.
    private(set) var characters = 0

    init(_ store: SpooledBytes) { self.store = store }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        characters += bytes.count
        if invalid { return }
        pending.append(contentsOf: bytes)
        // The last quad stays pending: it may be the one with padding.
        if pending.count >= 65536 + 4 {
            let length = (pending.count - 4) / 4 * 4
            decode(pending[0..<length], final: false)
            pending.removeFirst(length)
        }
    }

    mutating func finish() {
        if invalid || pending.isEmpty { return }
        let text = pending
        pending = []
        decode(text, final: true)
    }

    private mutating func decode(_ text: some Collection<UInt8>, final: Bool) {
        let quads = text as? [UInt8] ?? Array(text)
        guard final || !quads.contains(UInt8(ascii: "=")), let bytes = Base64.decode(bytes: quads) else {
            invalid = true
            return
        }
        store.append(bytes)
    }
}
