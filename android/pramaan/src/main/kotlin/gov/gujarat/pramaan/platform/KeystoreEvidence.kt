// The core's EvidenceProvider on Android: Key Attestation certificate chains.
//  - keyEvidence (enrollment): makes the device key now, with the server's nonce as its
//    attestation challenge (KeystoreSigner.createKey; a key can be attested only with the
//    challenge it was made with), and returns its chain. The core reads the signer's
//    public key again after this call and enrolls the key made here. The core calls it
//    only before enrollment, so no enrolled key is ever replaced.
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
            try {
                signer.createKey(challenge)
            } catch (e: ProviderException) {
                throw ApiException.Platform("Keystore could not make the device key: ${e.javaClass.simpleName}")
            }
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
