// The core's `EvidenceProvider` on iOS: App Attest (DeviceCheck).
//
// At enrollment, `keyEvidence` makes an App Attest key (`generateKey`) and attests it
// over SHA-256(client_data), where client_data = the server's nonce || COSE_Key of the
// Secure Enclave device key (`AppAttestBinding.boundClientData`): App Attest cannot attest
// the Secure Enclave key itself, so the attestation vouches for the app instance that
// holds both, and the server checks the bound key is the one enrolling. The App Attest
// key id is kept in the Keychain. When the server asks for fresh evidence,
// `freshEvidence` returns an assertion by that key over SHA-256(nonce); the server checks
// its counter increases.
//
// The core calls these synchronously on the thread that called `Agent.enroll` or
// `Agent.checkIn`, which is never the main thread (AppModel runs the core off it), so
// waiting for DCAppAttestService's completion handler with a semaphore is safe.
//
// Not compiled here (no Swift toolchain); syntax and binding names are checked.
import CryptoKit
import DeviceCheck
import Foundation
import PramaanCore
import PramaanLogic

public final class AppAttestEvidence: EvidenceProvider, @unchecked Sendable {
    // @unchecked: stateless apart from the Keychain, which is thread-safe.
    private let account: String
    /// How long to wait for Apple's servers (attestKey contacts them).
    private let timeout: DispatchTimeInterval

    public init(account: String = "gov.gujarat.pramaan.app-attest-key-id", timeout: DispatchTimeInterval = .seconds(60)) {
        self.account = account
        self.timeout = timeout
    }

    public func keyEvidence(challenge: Data, deviceKeySec1: Data) throws -> KeyEvidence? {
        let service = DCAppAttestService.shared
        // Not supported (simulator, old hardware): enroll without evidence; the server
        // records a software key and rule R5 says so.
        guard service.isSupported else { return nil }
        let bound = try AppAttestBinding.boundClientData(nonce: challenge, deviceKey: deviceKeySec1)
        let hash = Data(SHA256.hash(data: bound))
        let appAttestKey: String = try waitFor("App Attest key") { done in
            service.generateKey { identifier, error in done(identifier, error) }
        }
        let attestationObject: Data = try waitFor("App Attest attestation") { done in
            service.attestKey(appAttestKey, clientDataHash: hash) { object, error in done(object, error) }
        }
        guard let rawKeyId = Data(base64Encoded: appAttestKey) else {
            throw ApiError.Platform(detail: "App Attest returned a key id that is not base64")
        }
        try Keychain.store(Data(appAttestKey.utf8), account: account)
        return .appleAppAttest(attestation: attestationObject, keyId: rawKeyId, clientData: bound)
    }

    public func freshEvidence(challenge: Data) throws -> KeyEvidence? {
        let service = DCAppAttestService.shared
        guard service.isSupported,
            let stored = try Keychain.load(account: account),
            let appAttestKey = String(data: stored, encoding: .utf8)
        else { return nil }
        let hash = Data(SHA256.hash(data: challenge))
        let assertionObject: Data = try waitFor("App Attest assertion") { done in
            service.generateAssertion(appAttestKey, clientDataHash: hash) { object, error in done(object, error) }
        }
        return .appleAssertion(assertion: assertionObject)
    }

    /// Runs `start` and waits for its completion handler, at most `timeout`.
    private func waitFor<T>(_ what: String, _ start: (@escaping (T?, Error?) -> Void) -> Void) throws -> T {
        let semaphore = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        start { outcome, error in
            box.set(outcome, error)
            semaphore.signal()
        }
        guard semaphore.wait(timeout: .now() + timeout) == .success else {
            throw ApiError.Network(detail: "\(what): Apple's servers did not answer in time")
        }
        let (outcome, error) = box.get()
        if let error = error as? DCError, error.code == .serverUnavailable {
            throw ApiError.Network(detail: "\(what): Apple's App Attest service is unavailable")
        }
        if let error {
            throw ApiError.Platform(detail: "\(what): \(error.localizedDescription)")
        }
        guard let outcome else {
            throw ApiError.Platform(detail: "\(what): no result")
        }
        return outcome
    }
}

/// A value handed from a completion handler to the waiting thread.
private final class ResultBox<T>: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var stored: T?
    private var failure: Error?

    func set(_ outcome: T?, _ error: Error?) {
        lock.lock()
        defer { lock.unlock() }
        stored = outcome
        failure = error
    }

    func get() -> (T?, Error?) {
        lock.lock()
        defer { lock.unlock() }
        return (stored, failure)
    }
}
