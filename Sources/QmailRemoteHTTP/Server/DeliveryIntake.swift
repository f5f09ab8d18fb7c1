// Where every route that delivers meets once its body is decoded (POST
// /v1/deliveries; POST /v1/messages too): an envelope, a message and the
// client's options become an answer. Without an Idempotency-Key or
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
    /// for a refusal before anything started).
    func accept(
        _ input: DeliveryInput, _ message: StoredMessage, _ options: DeliveryOptions, answered: @escaping Answered
    ) {
        guard options.needsStore else {
            deliverNow(input, message, answered)
            return
        }
        // Queued without a key, small and in memory: nothing to wait for here
        // (the commit's completion answers), so no store caller thread either.
        if options.idempotencyKey == nil, !message.isSpooled, !store.keepsInFile(bodyOf: message.count) {
            return enqueue(input, message, options, Self.summary(input), answered)
        }
        callers.submit { [self] in acceptWithStore(input, message, options, answered) }
    }

    /// GET /v1/deliveries/{id}: the status, if the id was queued with this scope.
    func lookUp(id: String, scope: StoreScope, answered: @escaping Answered) {
        callers.submit { [self] in
            var summary = RequestSummary()
            summary.deliveryID = id
            do throws(StoreError) {
                if let status = try store.status(id: id, scope: scope, now: Clock.epochSeconds()) {
                    answered(StatusAnswer.response(status), summary)
                } else {
                    refuse(.deliveryNotFound, summary, answered)
                }
            } catch {
                refuse(.storeUnavailable(error), summary, answered)
            }
        }
    }

    private func deliverNow(_ input: DeliveryInput, _ message: StoredMessage, _ answered: @escaping Answered) {
        do throws(APIError) {
            try service.start(input, message: message) { [endpoint] results in
                let (response, summary) = endpoint.answer(input, results: results)
                answered(response, summary)
            }
        } catch {
            refuse(error, Self.summary(input), answered)
        }
    }

    /// On a store caller thread.
    private func acceptWithStore(
        _ input: DeliveryInput, _ message: StoredMessage, _ options: DeliveryOptions, _ answered: @escaping Answered
    ) {
        var summary = Self.summary(input)
        let scope = options.scope
        if let key = options.idempotencyKey {
            guard let fingerprint = RequestFingerprint.of(input, message) else {
                return refuse(.spoolFailed, summary, answered)
            }
            do throws(StoreError) {
                switch try store.beginIdempotentRequest(
                    scope: scope, key: key, fingerprint: fingerprint, ttlSeconds: idempotencyTTLSeconds,
                    staleAfterSeconds: Self.staleKeySeconds, now: Clock.epochSeconds())
                {
                case .new:
                    summary.idempotency = .new
                case .inProgress:
                    summary.idempotency = .inProgress
                    return refuse(.requestInProgress, summary, answered)
                case .mismatch:
                    summary.idempotency = .mismatch
                    return refuse(.idempotencyKeyReused, summary, answered)
                case .replay(let stored):
                    summary.idempotency = .replayed
                    return answered(Self.replay(stored), summary)
                }
            } catch {
                return refuse(.storeUnavailable(error), summary, answered)
            }
        }
        if options.respondAsync {
            enqueue(input, message, options, summary, answered)
        } else {
            let idempotency = summary.idempotency
            deliverNow(input, message) { [self] response, summary in
                var delivered = summary
                delivered.idempotency = idempotency
                guard let key = options.idempotencyKey else { return answered(response, delivered) }
                callers.submit { [self, delivered] in
                    keep(response, key: key, scope: scope)
                    answered(response, delivered)
                }
            }
        }
    }

    /// Commits the delivery (and the key's 202) to the queue, then answers 202
    /// from the commit's completion. Blocks only to write a large body's file.
    private func enqueue(
        _ input: DeliveryInput, _ message: StoredMessage, _ options: DeliveryOptions, _ summary: RequestSummary,
        _ answered: @escaping Answered
    ) {
        var summary = summary
        let id = DeliveryID.generate()
        summary.deliveryID = id
        var hosts = [[UInt8]](repeating: [], count: input.recipients.count)
        for group in input.groups {
            for index in group.recipientIndices { hosts[index] = group.host }
        }
        let delivery = NewDelivery(
            id: id, scope: options.scope, sender: input.sender, host: input.host,
            recipients: zip(input.recipients, hosts).map { QueuedRecipient(address: $0, host: $1) },
            message: message.queueBody)
        let response = StatusAnswer.accepted(id: id)
        let completion = options.idempotencyKey.map {
            IdempotencyCompletion(scope: options.scope, key: $0, answer: Self.stored(response))
        }
        let answer = summary
        // `message` is captured so that the spool file behind `queueBody` stays open until the store has read it.
        store.enqueueAsync(delivery, completing: completion, now: Clock.epochSeconds()) { [self, message] result in
            withExtendedLifetime(message) {}
            switch result {
            case .success:
                scheduler.wake()
                answered(response, answer)
            case .failure(let error):
                if let key = options.idempotencyKey {
                    callers.submit { [store] in try? store.abandonIdempotentRequest(scope: options.scope, key: key) }
                }
                refuse(.storeUnavailable(error), answer, answered)
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

    private func refuse(_ error: APIError, _ summary: RequestSummary, _ answered: Answered) {
        var summary = summary
        summary.error = error.code
        answered(error.response, summary)
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
