// The device key in the Secure Enclave (P-256, never leaves the chip). Implements the
// core's foreign `Signer`: `publicKey()` returns uncompressed SEC1 (65 bytes, as
// SecKeyCopyExternalRepresentation gives) and `sign()` returns the DER signature of
// SHA-256(message); the Rust core converts it to raw r||s.
//
// Not compiled in this repository's CI (no Swift toolchain); syntax is checked with
// tree-sitter-swift by tests/tests/bindings_swift.rs.
import Foundation
import Security
import PramaanCore

public final class SecureEnclaveSigner: Signer {
    private let tag: Data

    public init(tag: String = "in.gov.gujarat.pramaan.device-key") {
        self.tag = Data(tag.utf8)
    }

    private func key() throws -> SecKey {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag,
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
        ]
        var item: CFTypeRef?
        if SecItemCopyMatching(query as CFDictionary, &item) == errSecSuccess, let found = item {
            return found as! SecKey
        }
        var error: Unmanaged<CFError>?
        guard
            let access = SecAccessControlCreateWithFlags(
                nil, kSecAttrAccessibleWhenUnlockedThisDeviceOnly, .privateKeyUsage, &error)
        else {
            throw ApiError.Platform(detail: "access control: \(String(describing: error))")
        }
        let attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecAttrTokenID as String: kSecAttrTokenIDSecureEnclave,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: tag,
                kSecAttrAccessControl as String: access,
            ],
        ]
        guard let created = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw ApiError.Platform(detail: "Secure Enclave key: \(String(describing: error))")
        }
        return created
    }

    public func publicKey() throws -> Data {
        var error: Unmanaged<CFError>?
        guard let pub = SecKeyCopyPublicKey(try key()),
            let sec1 = SecKeyCopyExternalRepresentation(pub, &error) as Data?
        else {
            throw ApiError.Platform(detail: "public key: \(String(describing: error))")
        }
        return sec1
    }

    public func sign(message: Data) throws -> Data {
        var error: Unmanaged<CFError>?
        guard
            let der = SecKeyCreateSignature(
                try key(), .ecdsaSignatureMessageX962SHA256, message as CFData, &error) as Data?
        else {
            throw ApiError.Platform(detail: "sign: \(String(describing: error))")
        }
        return der
    }
}
