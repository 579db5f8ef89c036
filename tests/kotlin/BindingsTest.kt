// Drives the generated Kotlin bindings on the JVM against a real Pramaan server: the
// platform layer's two foreign traits are implemented here the way an Android app would
// (java.security P-256 key, SHA256withECDSA => DER signatures, SPKI public key), so the
// DER -> raw and SPKI -> SEC1 edges of the core are exercised from Kotlin.
//
// Usage: BindingsTestKt <enrollment-uri> <state-dir> [revoked]
//   (run by tests/tests/bindings_kotlin.rs; `revoked`: the second run, after IT revoked it)

import gov.gujarat.pramaan.Agent
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.AppRecord
import gov.gujarat.pramaan.Assurance
import gov.gujarat.pramaan.DeviceFacts
import gov.gujarat.pramaan.DeviceFactsRecord
import gov.gujarat.pramaan.DevicePlatform
import gov.gujarat.pramaan.GroupRecord
import gov.gujarat.pramaan.PlanAction
import gov.gujarat.pramaan.Rule
import gov.gujarat.pramaan.Signer
import gov.gujarat.pramaan.Status
import gov.gujarat.pramaan.Tone
import gov.gujarat.pramaan.appCatalog
import gov.gujarat.pramaan.planCheckIn
import gov.gujarat.pramaan.statusScreen
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.spec.ECGenParameterSpec
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

fun nowSecs(): ULong = (System.currentTimeMillis() / 1000).toULong()

// The key outlives the process, as a Keystore key does: kept next to the state directory
// (never inside it: the state directory is the core's).
class JavaSigner(stateDir: String) : Signer {
    private val pair: KeyPair = run {
        val priv = java.io.File("$stateDir.pkcs8")
        val pub = java.io.File("$stateDir.spki")
        val kf = java.security.KeyFactory.getInstance("EC")
        if (priv.exists()) {
            KeyPair(
                kf.generatePublic(java.security.spec.X509EncodedKeySpec(pub.readBytes())),
                kf.generatePrivate(java.security.spec.PKCS8EncodedKeySpec(priv.readBytes())),
            )
        } else {
            KeyPairGenerator.getInstance("EC").run {
                initialize(ECGenParameterSpec("secp256r1"))
                generateKeyPair()
            }.also {
                priv.writeBytes(it.private.encoded)
                pub.writeBytes(it.public.encoded)
            }
        }
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

/** Second run, after IT revoked the device: the officer is told so, with IT's reason. */
fun revoked(stateDir: String, signer: JavaSigner) {
    val agent = Agent(stateDir, signer)
    val facts = Facts(listOf("a.shah@gujarat.gov.in"))
    val e = assertFailsWith<ApiException.Revoked> { agent.checkIn(facts) }
    assertEquals("phone reported lost", e.reason)
    val status = agent.status()
    assertEquals("revoked", status.word)
    assertEquals("phone reported lost", status.revoked?.reason)
    assertTrue(status.hint!!.contains("new QR code"), status.hint)
    val screen = agent.screen(nowSecs())
    assertEquals(Tone.BLOCKED, screen.tone)
    assertEquals("Revoked by department IT", screen.title)
    assertTrue(screen.summary.contains("phone reported lost"), screen.summary)
    assertTrue(screen.canEnroll && !screen.canCheckIn)
    assertEquals(PlanAction.STOP, agent.plan(nowSecs()).action)
    println("KOTLIN REVOKED OK")
}

fun main(args: Array<String>) {
    val uri = args[0]
    val stateDir = args[1]
    val signer = JavaSigner(stateDir)
    if (args.size > 2 && args[2] == "revoked") {
        return revoked(stateDir, signer)
    }
    val facts = Facts(listOf("a.shah@gujarat.gov.in"))
    val agent = Agent(stateDir, signer)
    assertEquals(false, agent.status().enrolled)
    assertEquals("not enrolled", agent.status().word)
    assertTrue(agent.status().hint!!.contains("new QR code"))
    assertFailsWith<ApiException.NotEnrolled> { agent.checkIn(facts) }
    assertEquals("Not enrolled", agent.screen(nowSecs()).title)
    assertNull(agent.policySummary())
    val whatsapp = appCatalog().first { it.platform == "WhatsApp" }
    assertEquals("com.whatsapp", whatsapp.androidPackage)
    assertEquals("whatsapp", whatsapp.iosUrlScheme)

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
    // No `else`: the enum makes this `when` exhaustive, so a new status fails to compile.
    val shown = when (result.status) {
        Status.COMPLIANT -> "compliant"
        Status.WARNING -> "warning"
        Status.NONCOMPLIANT -> "noncompliant"
    }
    assertEquals("warning", shown)
    assertEquals("warning", agent.status().word)

    facts.emails = listOf("a.shah@gujarat.gov.in", "asha@gmail.com")
    val second = agent.checkIn(facts)
    assertEquals(Status.NONCOMPLIANT, second.result?.status)
    assertEquals("noncompliant", agent.status().word)
    val r1 = second.result!!.failures.first { it.rule == Rule.R1 && it.detail.contains("gmail.com") }
    // Every failure carries the officer's next step.
    assertEquals(
        "remove the account asha@gmail.com from this phone; only official email (gujarat.gov.in, nic.in) may be on it",
        r1.hint,
    )
    assertTrue(second.result!!.failures.all { it.hint.isNotEmpty() })
    assertTrue(second.local.failures.all { it.hint.isNotEmpty() })
    assertTrue(second.local.failures.any { it.rule == Rule.R1 })

    // A throwing platform callback becomes an ApiException, not a crash.
    assertFailsWith<ApiException> { agent.checkIn(ThrowingFacts()) }

    // The status screen and the check-in plan, from the agent and from a record.
    val now = nowSecs()
    val screen = agent.screen(now)
    assertEquals(Tone.BAD, screen.tone)
    assertEquals("${second.result!!.failures.size} things to fix", screen.title)
    assertTrue(screen.items.any { it.rule == Rule.R1 && it.action.startsWith("Remove the account asha@gmail.com") }, screen.items.toString())
    assertEquals("Last check-in just now, accepted by the server", screen.lastCheckIn)
    val toneShown = when (screen.tone) {
        Tone.GOOD -> "green"
        Tone.ATTENTION -> "amber"
        Tone.BAD -> "red"
        Tone.BLOCKED -> "grey"
    }
    assertEquals("red", toneShown)
    val plan = agent.plan(now)
    assertEquals(PlanAction.WAIT, plan.action, plan.reason)
    assertTrue(plan.at > now && plan.periodSecs >= 900UL && plan.needsNetwork, plan.toString())
    val later = agent.status().copy(pending = 2UL)
    assertEquals(PlanAction.FLUSH_OUTBOX, planCheckIn(later, now).action)
    assertEquals("2 check-ins waiting to be sent", statusScreen(later, now).queued)
    assertEquals(PlanAction.CHECK_IN_NOW, planCheckIn(later, now + plan.periodSecs).action)
    val policy = assertNotNull(agent.policySummary())
    assertEquals("GAD", policy.department)
    assertTrue(policy.emailDomains.contains("gujarat.gov.in"), policy.toString())

    val status = agent.status()
    assertEquals(2UL, status.lastSeq)
    assertEquals(status.lastCheckInAt, status.lastLocal?.at)
    assertTrue(status.checkInHours > 0u && status.attestationsPerDay > 0u, status.toString())
    assertEquals(0UL, agent.pendingCount())
    assertTrue(signer.derSignatures >= 3, "enrollment and two check-ins signed in DER")
    println("KOTLIN OK device=${info.deviceId} seq=${status.lastSeq}")
}
