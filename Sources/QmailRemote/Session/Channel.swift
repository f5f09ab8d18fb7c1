// The command side of a session: writes commands and reads their replies in
// order. Queued commands go out in windows (1 for lock-step, more when the
// server offers PIPELINING); asking for the next reply sends the next window
// when its command has not gone out yet. No reply codes are judged here.

struct Channel {
    private(set) var connection: any Connection
    private var reader = ReplyReader()
    private var queued: [[UInt8]] = []
    private var sent = 0
    private var answered = 0
    private var window = 1

    init(connection: any Connection) { self.connection = connection }

    /// Goes on over TLS. Anything the server sent after its 220 to STARTTLS
    /// is dropped unread (it could be injected commands' replies).
    mutating func secure(_ secured: TLSConnection) {
        connection = secured
        reader = ReplyReader()
    }

    mutating func send(_ command: [UInt8]) throws(SMTPSession.Stop) {
        do { try connection.write(command) } catch { throw .died }
    }

    mutating func read() throws(SMTPSession.Stop) -> Reply {
        do { return try reader.read(from: connection) } catch {
            throw error == .tooLong ? .replyTooLong : .died
        }
    }

    /// Commands whose replies `nextReply` gives back one by one.
    mutating func queue(_ commands: [[UInt8]], window: Int) {
        queued = commands
        sent = 0
        answered = 0
        self.window = max(1, window)
    }

    /// The reply to the next queued command, sending it (and the rest of its
    /// window) first if it has not gone out.
    mutating func nextReply() throws(SMTPSession.Stop) -> Reply {
        if answered == sent {
            let end = min(queued.count, sent + window)
            try send(Array(queued[sent..<end].joined()))
            sent = end
        }
        answered += 1
        return try read()
    }

    /// Before QUIT: replies still owed for commands already sent are read,
    /// and if DATA among them was answered with a go-ahead, the data is ended
    /// at once (an empty message the server will refuse for want of
    /// recipients). Failures here change nothing: the report is made.
    mutating func finishPipeline() {
        guard answered < sent else { return }
        var dataAccepted = false
        while answered < sent {
            let isData = answered == queued.count - 1
            answered += 1
            guard let reply = try? read() else { return }
            if isData { dataAccepted = reply.code.verdict == .accepted }
        }
        if dataAccepted {
            try? send(Command.endOfData)
            _ = try? read()
        }
    }
}
