// Drives the generated Kotlin bindings on the JVM against a real Pramaan server: the
// platform layer's two foreign traits are implemented here the way an Android app would
// (java.security P-256 key, SHA256withECDSA => DER signatures, SPKI public key), so the
// DER -> raw and SPKI -> SEC1 edges of the core are exercised from Kotlin.
//
// Usage: BindingsTestKt <enrollment-uri> <state-dir>   (run by tests/tests/bindings_kotlin.rs)

import gov.gujarat.pramaan.Agent
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.AppRecord
import gov.gujarat.pramaan.Assurance
import gov.gujarat.pramaan.DeviceFacts
import gov.gujarat.pramaan.DeviceFactsRecord
import gov.gujarat.pramaan.DevicePlatform
import gov.gujarat.pramaan.GroupRecord
import gov.gujarat.pramaan.Rule
import gov.gujarat.pramaan.Signer
import gov.gujarat.pramaan.Status
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.spec.ECGenParameterSpec
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

class JavaSigner : Signer {
    private val pair: KeyPair = KeyPairGenerator.getInstance("EC").run {
        initialize(ECGenParameterSpec("secp256r1"))
        generateKeyPair()
    }
    var derSignatures = 0

    // X.509 SubjectPublicKeyInfo DER (91 bytes), as Android's PublicKey.getEncoded().
    override fun publicKey(): ByteArray = pair.public.encoded

    override fun sign(message: ByteArray): ByteArray {
        val s = java.security.Signature.getInstance("SHA256withECDSA")
        s.initSign(pair.private)
        s.update(message)
        val der = s.sign()
        check(der[0] == 0x30.toByte()) { "expected a DER ECDSA-Sig-Value" }
        derSignatures++
        return der
    }
}

class Facts(var emails: List<String>) : DeviceFacts {
    override fun facts() = DeviceFactsRecord(
        platform = DevicePlatform.ANDROID,
        model = "Pixel 8",
        osName = "android",
        osVersion = "15",
        patchLevel = "2026-10-05",
        screenLock = true,
        emails = emails,
        apps = listOf(
            AppRecord(
                id = "com.whatsapp",
                signer = "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44",
                version = "2.26.1",
                present = true,
            ),
        ),
        groups = listOf(
            GroupRecord(platform = "WhatsApp", group = "gad-officers", member = true, handle = "+919800000001"),
        ),
    )
}

class ThrowingFacts : DeviceFacts {
    override fun facts(): DeviceFactsRecord = throw IllegalStateException("PackageManager unavailable")
}

fun main(args: Array<String>) {
    val uri = args[0]
    val stateDir = args[1]
    val signer = JavaSigner()
    val facts = Facts(listOf("a.shah@gujarat.gov.in"))
    val agent = Agent(stateDir, signer)
    assertEquals(false, agent.status().enrolled)
    assertFailsWith<ApiException.NotEnrolled> { agent.checkIn(facts) }

    val info = agent.enroll(uri, facts, null)
    assertEquals("GAD-001", info.officerId)
    assertEquals("GAD", info.department)
    assertEquals(Assurance.SOFTWARE, info.assurance)
    assertFailsWith<ApiException.AlreadyEnrolled> { agent.enroll(uri, facts, null) }

    val first = agent.checkIn(facts)
    assertTrue(first.delivered)
    val result = assertNotNull(first.result)
    assertEquals(1UL, result.seq)
    assertEquals(Status.WARNING, result.status, "software key on Android: R5 warning only")
    assertTrue(result.failures.all { it.rule == Rule.R5 }, result.failures.toString())
    // No `else`: the enum makes this `when` exhaustive, so a new verdict fails to compile.
    val shown = when (result.status) {
        Status.AFFIRMING -> "compliant"
        Status.WARNING -> "warning"
        Status.CONTRAINDICATED -> "not compliant"
    }
    assertEquals("warning", shown)

    facts.emails = listOf("a.shah@gujarat.gov.in", "asha@gmail.com")
    val second = agent.checkIn(facts)
    assertEquals(Status.CONTRAINDICATED, second.result?.status)
    assertTrue(second.result!!.failures.any { it.rule == Rule.R1 && it.detail.contains("gmail.com") })
    assertTrue(second.local.failures.any { it.rule == Rule.R1 })

    // A throwing platform callback becomes an ApiException, not a crash.
    assertFailsWith<ApiException> { agent.checkIn(ThrowingFacts()) }

    val status = agent.status()
    assertEquals(2UL, status.lastSeq)
    assertEquals(0UL, agent.pendingCount())
    assertTrue(signer.derSignatures >= 3, "enrollment and two check-ins signed in DER")
    println("KOTLIN OK device=${info.deviceId} seq=${status.lastSeq}")
}
