// The device key in Android Keystore (StrongBox when the phone has it), with Key
// Attestation bound to the enrollment nonce. Implements the core's foreign `Signer`:
// `publicKey()` returns SubjectPublicKeyInfo DER and `sign()` returns a DER ECDSA
// signature; the Rust core converts both at its edge.
//
// Not compiled in this repository's CI (no Android SDK); syntax is checked with
// tree-sitter-kotlin by tests/tests/bindings_swift.rs.
package gov.gujarat.pramaan.platform

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.KeyEvidence
import gov.gujarat.pramaan.Signer
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.spec.ECGenParameterSpec

class KeystoreSigner(private val alias: String = "pramaan-device-key") : Signer {
    private val keyStore: KeyStore = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }

    /** Creates the key (once) with the server's enrollment nonce as attestation challenge. */
    fun create(challenge: ByteArray): KeyEvidence {
        if (!keyStore.containsAlias(alias)) {
            try {
                generate(challenge, strongBox = true)
            } catch (e: StrongBoxUnavailableException) {
                generate(challenge, strongBox = false)
            }
        }
        val chain = keyStore.getCertificateChain(alias)?.map { it.encoded }
            ?: throw ApiException.Platform("no attestation chain for $alias")
        return KeyEvidence.AndroidKeyAttestation(chain)
    }

    private fun generate(challenge: ByteArray, strongBox: Boolean) {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setAttestationChallenge(challenge)
            .setIsStrongBoxBacked(strongBox)
            .build()
        KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, "AndroidKeyStore").run {
            initialize(spec)
            generateKeyPair()
        }
    }

    override fun publicKey(): ByteArray =
        keyStore.getCertificate(alias)?.publicKey?.encoded
            ?: throw ApiException.Platform("no key $alias")

    override fun sign(message: ByteArray): ByteArray {
        val key = keyStore.getKey(alias, null) as? PrivateKey
            ?: throw ApiException.Platform("no key $alias")
        return java.security.Signature.getInstance("SHA256withECDSA").run {
            initSign(key)
            update(message)
            sign()
        }
    }
}
