// The Swift side of CDKIM: one DKIM-Signature in the making, fed the header
// fields and the body as the server will store them, then finished into the
// field to put in front of the message. libopendkim is loaded on the first
// signer, never before: a delivery that signs nothing never maps it.

internal import CDKIM

/// What a signature says about itself: the gateway's `"dkim"` entries.
public struct DKIMSignatureSummary: Sendable, Equatable {
    /// d=: the signing domain.
    public let domain: String
    /// s=: the selector.
    public let selector: String
    /// a=: `rsa-sha256` or `ed25519-sha256`.
    public let algorithm: String

    public init(domain: String, selector: String, algorithm: String) {
        self.domain = domain
        self.selector = selector
        self.algorithm = algorithm
    }
}

final class DKIMSigner {
    private let pointer: OpaquePointer
    let summary: DKIMSignatureSummary

    /// Throws the reason when libopendkim cannot be loaded or cannot use the key.
    init(key: SigningKey, selector: [UInt8], domain: [UInt8]) throws(KeyProblem) {
        var problem = [CChar](repeating: 0, count: 256)
        let algorithm: Int32
        switch key.algorithm {
        case .rsaSHA256: algorithm = CDKIM_RSA_SHA256
        case .ed25519SHA256: algorithm = CDKIM_ED25519_SHA256
        }
        let made = (key.pem + [0]).withUnsafeBufferPointer { pem in
            (selector + [0]).withUnsafeBufferPointer { selector in
                (domain + [0]).withUnsafeBufferPointer { domain in
                    pem.withMemoryRebound(to: CChar.self) { pem in
                        selector.withMemoryRebound(to: CChar.self) { selector in
                            domain.withMemoryRebound(to: CChar.self) { domain in
                                cdkim_signer_new(
                                    pem.baseAddress, selector.baseAddress, domain.baseAddress, algorithm, &problem,
                                    problem.count)
                            }
                        }
                    }
                }
            }
        }
        guard let made else { throw KeyProblem(Self.text(problem)) }
        pointer = made
        summary = DKIMSignatureSummary(
            domain: String(decoding: domain, as: UTF8.self), selector: String(decoding: selector, as: UTF8.self),
            algorithm: key.algorithm.tag)
    }

    deinit { cdkim_signer_free(pointer) }

    /// Whether libopendkim can be loaded here; the reason when not.
    static func loadProblem() -> String? {
        var problem = [CChar](repeating: 0, count: 256)
        return cdkim_load(&problem, problem.count) == 1 ? nil : text(problem)
    }

    /// One field without its final CRLF. false: libopendkim refused it.
    func header(_ field: [UInt8]) -> Bool {
        field.withUnsafeBufferPointer { cdkim_header(pointer, $0.baseAddress, $0.count) == 1 }
    }

    func endOfHeaders() -> Bool { cdkim_end_of_headers(pointer) == 1 }

    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        cdkim_body(pointer, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count) == 1
    }

    /// The whole DKIM-Signature field, each line ending CRLF.
    func finish() -> Result<[UInt8], KeyProblem> {
        var problem = [CChar](repeating: 0, count: 256)
        var value: UnsafePointer<UInt8>?
        var length = 0
        guard cdkim_finish(pointer, &value, &length, &problem, problem.count) == 1, let value else {
            return .failure(KeyProblem(Self.text(problem)))
        }
        var field = Array("DKIM-Signature: ".utf8)
        for byte in UnsafeBufferPointer(start: value, count: length) where byte != 13 {
            if byte == 10 { field.append(13) }
            field.append(byte)
        }
        field += [13, 10]
        return .success(field)
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
