// A live SMTP connection and the thin driver that runs conversations over it:
// it does what an SMTPConversation asks (write, read a reply, start TLS, look
// at or stream the message) and feeds back what happened. Between messages it
// keeps what a reused conversation starts from: the server's extensions, the
// TLS in place, the messages carried. QUIT is written here and nowhere else.

import QmailSupport

final class SMTPSession {
    let ip: IPAddress
    private(set) var connection: any Connection
    private var reader = ReplyReader()
    /// What the server offered in its last EHLO.
    private(set) var extensions = Extensions()
    private(set) var tls: TLSSummary?
    /// Messages delivered on this connection so far.
    private(set) var messagesCarried = 0
    private var closed = false

    /// The message is read and sent in pieces of this size.
    static let chunkSize = 65536

    init(connection: any Connection, ip: IPAddress) {
        self.connection = connection
        self.ip = ip
    }

    deinit { close(quit: false) }

    /// Runs `conversation` to its end. `secure` starts TLS on the connection
    /// (the connector's handshake as the plan says). The connection is closed
    /// (with QUIT when the ending says so) unless the ending keeps it.
    func converse(
        _ conversation: inout SMTPConversation, message: some MessageSource,
        proceed: ((DeliveryStep) -> Bool)? = nil,
        secure: (any Connection) -> Result<SecuredConnection, TLSFailure>
    ) -> SMTPConversation.Ending {
        var action = conversation.start()
        while true {
            let event: SMTPConversation.Event
            switch action {
            case .send(let bytes):
                event = (try? connection.write(bytes)) == nil ? .connectionDied : .written
            case .receive:
                event = receive()
            case .startTLS:
                switch secure(connection) {
                case .success(let secured):
                    connection = secured.connection
                    // Whatever came after the go-ahead is dropped unread (it
                    // could be replies to injected commands).
                    reader = ReplyReader()
                    event = .tlsStarted(secured.summary)
                case .failure(let failure):
                    event = .tlsFailed(failure)
                }
            case .examineMessage:
                event = .messageFacts(message.facts())
            case .sendMessage:
                event = send(message, proceed: proceed)
            case .finish(let ending):
                finish(ending, conversation: conversation)
                return ending
            }
            action = conversation.handle(event)
        }
    }

    /// Whether the connection sits idle as it should between messages:
    /// nothing unread, nothing arrived, not closed by the server.
    var isIdle: Bool { !closed && !reader.hasUnreadBytes && !connection.hasInputOrClosed }

    /// Ends the connection, with QUIT first (not waiting for its reply).
    func close(quit: Bool) {
        guard !closed else { return }
        closed = true
        if quit { try? connection.write(Command.quit) }
        connection.close()
    }

    private func finish(_ ending: SMTPConversation.Ending, conversation: SMTPConversation) {
        switch ending {
        case .report(_, .keep):
            extensions = conversation.extensions
            tls = conversation.tls
            messagesCarried += 1
        case .report(_, .quit), .tlsRefused(_, .quit): close(quit: true)
        case .report(_, .close), .tlsRefused, .retryInPlainText, .stale: close(quit: false)
        }
    }

    private func receive() -> SMTPConversation.Event {
        do {
            return .reply(try reader.read(from: connection))
        } catch {
            return error == .tooLong ? .replyTooLong : .connectionDied
        }
    }

    /// Streams the message through the encoder; the last piece and the final
    /// dot go out in one write. Memory stays at about two chunks. `proceed`
    /// is asked before each write of data, and once right before the dot.
    private func send(_ message: some MessageSource, proceed: ((DeliveryStep) -> Bool)?) -> SMTPConversation.Event {
        var encoder = MessageEncoder()
        var input = [UInt8](unsafeUninitializedCapacity: Self.chunkSize) { $1 = Self.chunkSize }
        // Grown as needed and kept: no 128 KiB (mmap-sized) buffer for a small message.
        var output: [UInt8] = []
        while true {
            let count: Int
            do {
                count = try input.withUnsafeMutableBytes { raw throws(MessageReadError) in try message.read(into: raw) }
            } catch {
                return .messageUnreadable
            }
            if count == 0 { break }
            input.withUnsafeBytes { encoder.encode(UnsafeRawBufferPointer(rebasing: $0[0..<count]), into: &output) }
            if output.count >= Self.chunkSize {
                if proceed?(.messageData) == false { return .stoppedBeforeFinalDot }
                if (try? connection.write(output)) == nil { return .connectionDied }
                output.removeAll(keepingCapacity: true)
            }
        }
        guard encoder.endsWithCompleteLine else { return .partialFinalLine }
        if !output.isEmpty && proceed?(.messageData) == false { return .stoppedBeforeFinalDot }
        if proceed?(.finalDot) == false { return .stoppedBeforeFinalDot }
        output.append(contentsOf: Command.endOfData)
        if (try? connection.write(output)) == nil { return .connectionDied }
        return .messageSent
    }
}
