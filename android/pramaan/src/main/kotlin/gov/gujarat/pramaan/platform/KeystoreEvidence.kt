// The core's EvidenceProvider on Android: Key Attestation certificate chains.
//  - keyEvidence (enrollment): the device key's chain, when that key was made with the
//    server's nonce as attestation challenge (KeystoreSigner.createKey); otherwise none,
//    and the server records a software key (a chain bound to another challenge would only
//    fail its check).
//  - freshEvidence (the server's re-attestation request): a new short-lived key attested
//    with the server's challenge, its chain sent, the key deleted: the chain proves the
//    phone's state now (boot state, patch level, Pramaan app's signer) on the same
//    hardware, without touching the enrolled device key.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.platform

import android.content.Context
import android.util.Log
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.EvidenceProvider
import gov.gujarat.pramaan.KeyEvidence
import java.security.KeyStore
import java.security.ProviderException
import java.util.UUID

private const val TAG = "PramaanEvidence"

class KeystoreEvidence(
    private val context: Context,
    private val signer: KeystoreSigner,
) : EvidenceProvider {

    override fun keyEvidence(challenge: ByteArray, deviceKeySec1: ByteArray): KeyEvidence? {
        val made = signer.keyChallenge
        if (made == null || !made.contentEquals(challenge)) {
            Log.w(TAG, "the device key was not made with this enrollment's challenge: no key attestation")
            return null
        }
        val chain = signer.certificateChain()
        if (chain.size < 2) {
            Log.w(TAG, "Keystore returned no attestation chain")
            return null
        }
        return KeyEvidence.AndroidKeyAttestation(chain)
    }

    override fun freshEvidence(challenge: ByteArray): KeyEvidence? {
        val alias = "pramaan-fresh-" + UUID.randomUUID()
        val keyStore = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        return try {
            generateEcKey(context, alias, challenge)
            val chain = keyStore.getCertificateChain(alias)?.map { it.encoded }.orEmpty()
            if (chain.size < 2) null else KeyEvidence.AndroidKeyAttestation(chain)
        } catch (e: ProviderException) {
            throw ApiException.Platform("Keystore attestation failed: ${e.javaClass.simpleName}")
        } finally {
            if (keyStore.containsAlias(alias)) keyStore.deleteEntry(alias)
        }
    }
}
