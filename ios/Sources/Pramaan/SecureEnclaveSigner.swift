// The device key in the Secure Enclave (P-256, generated in and never leaving the chip),
// through CryptoKit. Implements the core's foreign `Signer`: `publicKey()` returns the
// uncompressed SEC1 point (65 bytes, `x963Representation`) and `sign(message:)` the DER
// ECDSA signature of SHA-256(message) (CryptoKit hashes the message itself); the Rust
// core converts DER to COSE's raw r||s once, at its edge.
//
// The key's `dataRepresentation` is an opaque handle only this phone's Secure Enclave
// can use; it is kept in the Keychain (this device only, after first unlock, so that
// background check-ins can sign while the phone is locked).
//
// Not compiled in this repository's CI (no Swift toolchain): syntax is checked with
// tree-sitter-swift (tests/tests/bindings_swift.rs) and every binding name it uses is
// checked against the generated bindings (tests/tests/platform_checks.rs).
import CryptoKit
import Foundation
import PramaanCore
import Security

public final class SecureEnclaveSigner: Signer, @unchecked Sendable {
    // @unchecked: the only state is `lock` and `cached`, read and written under `lock`.
    private let account: String
    private let lock = NSLock()
    private var cached: SecureEnclave.P256.Signing.PrivateKey?

    public init(account: String = "gov.gujarat.pramaan.device-key") {
        self.account = account
    }

    public func publicKey() throws -> Data {
        try key().publicKey.x963Representation
    }

    public func sign(message: Data) throws -> Data {
        do {
            return try key().signature(for: message).derRepresentation
        } catch let error as ApiError {
            throw error
        } catch {
            throw ApiError.Platform(detail: "the Secure Enclave refused to sign: \(error.localizedDescription)")
        }
    }

    /// The key, loaded from the Keychain or created on first use.
    private func key() throws -> SecureEnclave.P256.Signing.PrivateKey {
        lock.lock()
        defer { lock.unlock() }
        if let key = cached { return key }
        guard SecureEnclave.isAvailable else {
            throw ApiError.Platform(detail: "this device has no Secure Enclave")
        }
        let key: SecureEnclave.P256.Signing.PrivateKey
        if let stored = try Keychain.load(account: account) {
            do {
                key = try SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: stored)
            } catch {
                throw ApiError.Platform(detail: "the device key cannot be used on this phone: \(error.localizedDescription)")
            }
        } else {
            var cfError: Unmanaged<CFError>?
            guard
                let access = SecAccessControlCreateWithFlags(
                    nil, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly, .privateKeyUsage, &cfError)
            else {
                throw ApiError.Platform(detail: "access control: \(String(describing: cfError?.takeRetainedValue()))")
            }
            do {
                key = try SecureEnclave.P256.Signing.PrivateKey(accessControl: access)
            } catch {
                throw ApiError.Platform(detail: "the Secure Enclave could not make a key: \(error.localizedDescription)")
            }
            try Keychain.store(key.dataRepresentation, account: account)
        }
        cached = key
        return key
    }
}

/// The device's Pramaan keys as a whole.
public enum DeviceKeys {
    /// Forgets the Secure Enclave key's handle and the App Attest key id. For a fresh
    /// installation (iOS keeps Keychain items across a reinstall, and the server refuses
    /// a key it enrolled or revoked before) and when the officer starts over after a
    /// revocation. Signers already made keep their cached key: make new ones.
    public static func forgetAll() throws {
        try Keychain.removeAll()
    }
}

/// Generic-password Keychain items of this app, this device only, readable after the
/// first unlock (background check-ins). Holds the Secure Enclave key's handle and the App
/// Attest key id: neither is a secret that works on another phone, but neither belongs in
/// a backup.
enum Keychain {
    static let service = "gov.gujarat.pramaan"

    static func load(account: String) throws -> Data? {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
            kSecMatchLimit as String: kSecMatchLimitOne,
        ]
        var item: CFTypeRef?
        let osStatus = SecItemCopyMatching(query as CFDictionary, &item)
        switch osStatus {
        case errSecSuccess:
            guard let data = item as? Data else {
                throw ApiError.Storage(detail: "Keychain item \(account) is not data")
            }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw ApiError.Storage(detail: "Keychain read \(account): OSStatus \(osStatus)")
        }
    }

    static func removeAll() throws {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
        ]
        let osStatus = SecItemDelete(query as CFDictionary)
        guard osStatus == errSecSuccess || osStatus == errSecItemNotFound else {
            throw ApiError.Storage(detail: "Keychain delete: OSStatus \(osStatus)")
        }
    }

    static func store(_ data: Data, account: String) throws {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
        SecItemDelete(query as CFDictionary)
        var add = query
        add[kSecValueData as String] = data
        add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let osStatus = SecItemAdd(add as CFDictionary, nil)
        guard osStatus == errSecSuccess else {
            throw ApiError.Storage(detail: "Keychain write \(account): OSStatus \(osStatus)")
        }
    }
}
