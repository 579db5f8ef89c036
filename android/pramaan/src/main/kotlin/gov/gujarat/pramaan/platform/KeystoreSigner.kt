// The device key in Android Keystore: P-256, in StrongBox when the phone has one (else the
// TEE), never exportable. Implements the core's foreign `Signer`: `publicKey()` returns
// SubjectPublicKeyInfo DER and `sign()` a DER ECDSA signature over SHA-256 of the message;
// the Rust core converts both at its edge.
//
// Attestation: at enrollment KeystoreEvidence.keyEvidence remakes the key with
// `createKey(challenge)`, the server's enrollment nonce as attestation challenge, and sends
// its chain; the core then reads `publicKey()` again and enrolls that key. A key made
// earlier by `publicKey()` (before the nonce is known) is replaced then. See
// android/README.md, "Key attestation".
//
// Not compiled in this repository's CI (no Android SDK); syntax is checked with
// tree-sitter-kotlin, and every binding name used is checked against the generated file.
package gov.gujarat.pramaan.platform

import android.content.Context
import android.content.pm.PackageManager
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import android.util.Log
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.Signer
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.ECGenParameterSpec

/** The Keystore alias of the device key. */
const val DEVICE_KEY_ALIAS = "pramaan-device-key"

private const val TAG = "PramaanKeystore"

class KeystoreSigner(
    private val context: Context,
    private val alias: String = DEVICE_KEY_ALIAS,
) : Signer {
    private val keyStore: KeyStore = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }

    /** The challenge the current key was made with in this process, if any. */
    @Volatile
    var keyChallenge: ByteArray? = null
        private set

    /** Whether the device key exists. */
    fun hasKey(): Boolean = keyStore.containsAlias(alias)

    /**
     * Makes the device key, attested with [challenge] (null: no attestation). Replaces a
     * key of the same alias: call it only before enrollment.
     */
    @Synchronized
    fun createKey(challenge: ByteArray?) {
        if (hasKey()) keyStore.deleteEntry(alias)
        generateEcKey(context, alias, challenge)
        keyChallenge = challenge?.copyOf()
    }

    /** The key's certificate chain (DER, leaf first): the attestation chain when attested. */
    fun certificateChain(): List<ByteArray> =
        keyStore.getCertificateChain(alias)?.map { it.encoded }.orEmpty()

    override fun publicKey(): ByteArray {
        synchronized(this) {
            if (!hasKey()) createKey(null)
        }
        return keyStore.getCertificate(alias)?.publicKey?.encoded
            ?: throw ApiException.Platform("no device key in Android Keystore")
    }

    override fun sign(message: ByteArray): ByteArray {
        val key = keyStore.getKey(alias, null) as? PrivateKey
            ?: throw ApiException.Platform("no device key in Android Keystore")
        return try {
            Signature.getInstance("SHA256withECDSA").run {
                initSign(key)
                update(message)
                sign()
            }
        } catch (e: java.security.GeneralSecurityException) {
            throw ApiException.Platform("Keystore signing failed: ${e.javaClass.simpleName}")
        }
    }
}

/**
 * Generates a P-256 signing key under [alias] in Android Keystore: in StrongBox when the
 * phone declares FEATURE_STRONGBOX_KEYSTORE (falling back to the TEE when StrongBox
 * refuses), attested with [challenge] when given.
 */
internal fun generateEcKey(context: Context, alias: String, challenge: ByteArray?) {
    val strongBox = context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)
    try {
        generate(alias, challenge, strongBox)
    } catch (e: StrongBoxUnavailableException) {
        Log.w(TAG, "StrongBox unavailable, using the TEE")
        generate(alias, challenge, strongBox = false)
    }
}

private fun generate(alias: String, challenge: ByteArray?, strongBox: Boolean) {
    val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
        .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
        .setDigests(KeyProperties.DIGEST_SHA256)
        .setIsStrongBoxBacked(strongBox)
        .apply { if (challenge != null) setAttestationChallenge(challenge) }
        .build()
    KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, "AndroidKeyStore").run {
        initialize(spec)
        generateKeyPair()
    }
}
