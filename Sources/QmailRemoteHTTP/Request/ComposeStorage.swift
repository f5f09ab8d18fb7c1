// How the composer reads and writes what the gateway stores: a kept text or
// attachment (StoredMessage) is a ContentSource the composer reads in
// pieces, and the message it builds is written into a SpooledBytes (memory
// budget, then spool file) like any other message. No composing here.

import MailComposer

extension StoredMessage: ContentSource {
    /// The bytes for the composer: those in memory as they are (this object
    /// keeps their share of the budget while it lives), a spool file's read
    /// in pieces when they are needed.
    var partContent: PartContent { bytesInMemory.map { PartContent($0) } ?? PartContent(source: self) }
}

extension SpooledBytes: MessageSink {
    public func write(_ bytes: UnsafeRawBufferPointer) { append(bytes) }
}
