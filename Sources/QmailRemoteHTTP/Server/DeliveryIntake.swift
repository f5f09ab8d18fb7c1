// Where every route that delivers meets once its body is decoded (POST
// /v1/deliveries; POST /v1/messages too): a Submission (envelope, message,
// what the route's answers add, its own fingerprint if it has one) and the
// request's Access (token, rate fields, the client's options) become an
// answer. Without an Idempotency-Key or
// Prefer: respond-async the delivery runs at once, as it always did, and the
// store is never touched. With a key, the key is begun first (a replay, 409
// or 422 ends there) and the final answer is stored before it is sent; with
// respond-async the delivery is committed to the queue (with the key's
// answer, in one transaction) and then answered 202. No thread waits for the
// store but StoreCallers' (a small queued message is answered from its
// commit's completion); never libmicrohttpd's or a delivery thread.

import QmailRemote

final class DeliveryIntake: Sendable {
    typealias Answered = @Sendable (HTTPResponse, RequestSummary) -> Void

    let store: DeliveryStore
    let service: DeliveryService
    let callers: StoreCallers
    let scheduler: QueueScheduler
    let endpoint: GatewayEndpoint
    let idempotencyTTLSeconds: Int64
    /// A key still in progress after this long is taken to belong to a request
    /// that died with its gateway (PostgreSQL; SQLite frees them at restart),
    /// and is given to the next request with it.
    static let staleKeySeconds: Int64 = 3600

    init(
        store: DeliveryStore, service: DeliveryService, callers: StoreCallers, scheduler: QueueScheduler,
        endpoint: GatewayEndpoint, idempotencyTTLSeconds: Int64
    ) {
        self.store = store
        self.service = service
        self.callers = callers
        self.scheduler = scheduler
        self.endpoint = endpoint
        self.idempotencyTTLSeconds = idempotencyTTLSeconds
    }

    /// `answered` is called exactly once, on some other thread (or this one,
    /// for a refusal before anything started), with the answer as sent: the
    /// token's name in the summary, its rate fields in the headers.
    func accept(_ submission: Submission, _ access: Access, answered: @escaping Answered) {
        let options = access.options
        let message = submission.message
        guard options.needsStore else {
            deliverNow(submission) { response, summary in Self.reply(response, summary, access, answered) }
            return
        }
        // Queued without a key, small and in memory: nothing to wait for here
        // (the commit's completion answers), so no store caller thread either.
        if options.idempotencyKey == nil, !message.isSpooled, !store.keepsInFile(bodyOf: message.count) {
            return enqueue(submission, access, Self.summary(submission.input), answered)
        }
        callers.submit { [self] in acceptWithStore(submission, access, answered) }
    }

    /// GET /v1/deliveries/{id}: the status, if the id was queued with this access's scope.
    func lookUp(id: String, access: Access, answered: @escaping Answered) {
        callers.submit { [self] in
            var summary = RequestSummary()
            summary.deliveryID = id
            do throws(StoreError) {
                if let status = try store.status(id: id, scope: access.scope, now: Clock.epochSeconds()) {
                    Self.reply(StatusAnswer.response(status), summary, access, answered)
                } else {
                    Self.refuse(.deliveryNotFound, summary, access, answered)
                }
            } catch {
                Self.refuse(.storeUnavailable(error), summary, access, answered)
            }
        }
    }

    /// The delivery's answer as it would be stored: without the rate fields
    /// of the request that ran it.
    private func deliverNow(_ submission: Submission, _ delivered: @escaping Answered) {
        do throws(APIError) {
            try service.start(submission.input, message: submission.message) { [endpoint] results in
                let (response, summary) = endpoint.answer(submission, results: results)
                delivered(response, summary)
            }
        } catch {
            var summary = Self.summary(submission.input)
            summary.error = error.code
            delivered(error.response, summary)
        }
    }

    /// On a store caller thread.
    private func acceptWithStore(_ submission: Submission, _ access: Access, _ answered: @escaping Answered) {
        var summary = Self.summary(submission.input)
        let options = access.options
        let scope = access.scope
        if let key = options.idempotencyKey {
            guard let fingerprint = RequestFingerprint.of(submission) else {
                return Self.refuse(.spoolFailed, summary, access, answered)
            }
            do throws(StoreError) {
                switch try store.beginIdempotentRequest(
                    scope: scope, key: key, fingerprint: fingerprint, ttlSeconds: idempotencyTTLSeconds,
                    staleAfterSeconds: Self.staleKeySeconds, now: Clock.epochSeconds())
                {
                case .new:
                    summary.idempotency = .new
                case .inProgress:
                    // A retry of a request already counted: its unit of the rate goes back.
                    summary.idempotency = .inProgress
                    return Self.refuse(.requestInProgress, summary, endpoint.giveBackRate(access), answered)
                case .mismatch:
                    summary.idempotency = .mismatch
                    return Self.refuse(.idempotencyKeyReused, summary, access, answered)
                case .replay(let stored):
                    summary.idempotency = .replayed
                    return Self.reply(Self.replay(stored), summary, endpoint.giveBackRate(access), answered)
                }
            } catch {
                return Self.refuse(.storeUnavailable(error), summary, access, answered)
            }
        }
        if options.respondAsync {
            enqueue(submission, access, summary, answered)
        } else {
            let idempotency = summary.idempotency
            deliverNow(submission) { [self] response, summary in
                var delivered = summary
                delivered.idempotency = idempotency
                guard let key = options.idempotencyKey else { return Self.reply(response, delivered, access, answered) }
                callers.submit { [self, delivered] in
                    keep(response, key: key, scope: scope)
                    Self.reply(response, delivered, access, answered)
                }
            }
        }
    }

    /// Commits the delivery (and the key's 202) to the queue, then answers 202
    /// from the commit's completion. Blocks only to write a large body's file.
    private func enqueue(
        _ submission: Submission, _ access: Access, _ summary: RequestSummary, _ answered: @escaping Answered
    ) {
        let (input, message) = (submission.input, submission.message)
        let options = access.options
        let scope = access.scope
        var summary = summary
        let id = DeliveryID.generate()
        summary.deliveryID = id
        var hosts = [[UInt8]](repeating: [], count: input.recipients.count)
        for group in input.groups {
            for index in group.recipientIndices { hosts[index] = group.host }
        }
        let delivery = NewDelivery(
            id: id, scope: scope, sender: input.sender, host: input.host,
            recipients: zip(input.recipients, hosts).map { QueuedRecipient(address: $0, host: $1) },
            message: message.queueBody)
        let response = StatusAnswer.accepted(id: id, fields: submission.answerFields)
        let completion = options.idempotencyKey.map {
            IdempotencyCompletion(scope: scope, key: $0, answer: Self.stored(response))
        }
        let answer = summary
        // `message` is captured so that the spool file behind `queueBody` stays open until the store has read it.
        store.enqueueAsync(delivery, completing: completion, now: Clock.epochSeconds()) { [self, message] result in
            withExtendedLifetime(message) {}
            switch result {
            case .success:
                scheduler.wake()
                Self.reply(response, answer, access, answered)
            case .failure(let error):
                if let key = options.idempotencyKey {
                    callers.submit { [store] in try? store.abandonIdempotentRequest(scope: scope, key: key) }
                }
                Self.refuse(.storeUnavailable(error), answer, access, answered)
            }
        }
    }

    /// Stores a synchronous request's final answer for its key. A 503 (nothing
    /// was delivered: every recipient deferred, or the gateway could not take
    /// it) is not final: the key is freed so that a retry with it runs again.
    /// If the store fails here, the key stays in progress (409) rather than
    /// let a retry deliver the message a second time.
    private func keep(_ response: HTTPResponse, key: String, scope: StoreScope) {
        do throws(StoreError) {
            if response.status == 503 {
                try store.abandonIdempotentRequest(scope: scope, key: key)
            } else {
                try store.finishIdempotentRequest(scope: scope, key: key, answer: Self.stored(response))
            }
        } catch {
            service.telemetry.storeProblem("storing an idempotent answer", error)
        }
    }

    /// Every answer leaves through here: the token's name for the log and
    /// metrics, the rate fields of this request (never stored with a key's answer).
    private static func reply(
        _ response: HTTPResponse, _ summary: RequestSummary, _ access: Access, _ answered: Answered
    ) {
        var summary = summary
        summary.token = access.tokenName
        answered(access.carrying(response), summary)
    }

    private static func refuse(_ error: APIError, _ summary: RequestSummary, _ access: Access, _ answered: Answered) {
        var summary = summary
        summary.error = error.code
        reply(error.response, summary, access, answered)
    }

    private static func summary(_ input: DeliveryInput) -> RequestSummary {
        var summary = RequestSummary()
        summary.sender = String(decoding: input.sender, as: UTF8.self)
        summary.recipientCount = input.recipients.count
        return summary
    }

    static func stored(_ response: HTTPResponse) -> StoredAnswer {
        StoredAnswer(status: response.status, headers: response.headers, body: response.body)
    }

    /// The stored answer again, byte for byte, saying so.
    static func replay(_ stored: StoredAnswer) -> HTTPResponse {
        HTTPResponse(
            status: stored.status, headers: stored.headers + [("Idempotent-Replayed", "true")], body: stored.body)
    }
}
