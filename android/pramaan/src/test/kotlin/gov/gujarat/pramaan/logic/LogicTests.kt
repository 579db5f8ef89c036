// JVM tests of the plain-Kotlin logic (android/pramaan/src/main/kotlin/.../logic), against
// the host-built core through the generated bindings and, for enrollment and the whole
// path facts -> server -> screen, a real Pramaan test server.
//
// No JUnit here (the project's machines have no Maven Central): each test is a plain
// function with kotlin.test assertions; main runs them all, prints one line per test and
// "N passed, M failed", and exits non-zero on a failure.
//
// Usage: LogicTestsKt <enrollment-uri> <state-dir>
//   (run by tests/tests/android_logic.rs: a fresh token of officer GAD-001 on the test
//   server, and an empty directory for the agent's state)
package gov.gujarat.pramaan.logic

import gov.gujarat.pramaan.Agent
import gov.gujarat.pramaan.AgentStatus
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.AppProbe
import gov.gujarat.pramaan.CheckInPlan
import gov.gujarat.pramaan.CheckInResult
import gov.gujarat.pramaan.DeviceFacts
import gov.gujarat.pramaan.DeviceFactsRecord
import gov.gujarat.pramaan.GroupRecord
import gov.gujarat.pramaan.GroupToConfirm
import gov.gujarat.pramaan.LocalResult
import gov.gujarat.pramaan.PlanAction
import gov.gujarat.pramaan.PolicySummary
import gov.gujarat.pramaan.RevocationInfo
import gov.gujarat.pramaan.Rule
import gov.gujarat.pramaan.RuleFailure
import gov.gujarat.pramaan.ServerResult
import gov.gujarat.pramaan.Signer
import gov.gujarat.pramaan.Status
import gov.gujarat.pramaan.Tone
import gov.gujarat.pramaan.appCatalog
import gov.gujarat.pramaan.planCheckIn
import gov.gujarat.pramaan.statusScreen
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.spec.ECGenParameterSpec
import kotlin.system.exitProcess
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.test.fail

// ---------------------------------------------------------------- fixtures

/** A fixed "now" for the pure tests: 2026-11-30 10:00:00 UTC. */
private const val NOW: ULong = 1_796_032_800uL

private fun cert(name: String): ByteArray = "certificate of $name".toByteArray()

private fun probe(name: String, pkg: String, vararg signers: ByteArray) = AppProbe(
    platform = name,
    androidPackage = pkg,
    androidSigners = signers.map(::sha256Hex),
    iosBundle = null,
    iosUrlScheme = null,
)

private val messenger = probe("Messenger", "org.example.messenger", cert("publisher"))

private fun failure(rule: Rule, detail: String, hint: String) = RuleFailure(rule, detail, hint)

/** The core's hint as the screen shows it: a sentence (capital first, full stop). */
private fun sentence(hint: String): String {
    val s = hint.replaceFirstChar { it.uppercaseChar() }
    return if (s.endsWith('.') || s.endsWith('!') || s.endsWith('?')) s else "$s."
}

private fun serverResult(status: Status, vararg failures: RuleFailure) = ServerResult(
    seq = 4uL,
    status = status,
    failures = failures.toList(),
    logIndex = 9uL,
    iat = NOW - 3_600uL,
    reattest = false,
)

private fun localResult(status: Status, vararg failures: RuleFailure) =
    LocalResult(seq = 4uL, at = NOW - 3_600uL, status = status, failures = failures.toList())

/** An enrolled phone's status, checked in an hour ago, all well unless changed. */
private fun enrolled(
    result: ServerResult? = serverResult(Status.COMPLIANT),
    local: LocalResult? = localResult(Status.COMPLIANT),
    pending: ULong = 0uL,
    lastCheckInAt: ULong? = NOW - 3_600uL,
    retryAt: ULong = 0uL,
    reattest: Boolean = false,
    word: String = "compliant",
) = AgentStatus(
    enrolled = true,
    deviceId = "7d2c1f4e-0000-4000-8000-000000000001",
    officerId = "GAD-001",
    department = "GAD",
    server = "https://pramaan.example:8443",
    lastSeq = 4uL,
    lastResult = result,
    lastLocal = local,
    pending = pending,
    assurance = null,
    reattestRequested = reattest,
    word = word,
    revoked = null,
    hint = null,
    lastCheckInAt = lastCheckInAt,
    retryAt = retryAt,
    checkInHours = 24u,
    attestationsPerDay = 48u,
)

private fun notEnrolled() = enrolled(result = null, local = null, lastCheckInAt = null, word = "not enrolled")
    .copy(
        enrolled = false, deviceId = null, officerId = null, department = null, server = null,
        lastSeq = 0uL, hint = "ask IT for a new QR code and enroll this phone with it",
        checkInHours = 0u, attestationsPerDay = 0u,
    )

/** A java.security signer, as the Android Keystore one answers: SPKI key, DER signatures. */
private class JavaSigner : Signer {
    private val pair: KeyPair = KeyPairGenerator.getInstance("EC").run {
        initialize(ECGenParameterSpec("secp256r1"))
        generateKeyPair()
    }

    override fun publicKey(): ByteArray = pair.public.encoded

    override fun sign(message: ByteArray): ByteArray =
        java.security.Signature.getInstance("SHA256withECDSA").run {
            initSign(pair.private)
            update(message)
            sign()
        }
}

private class RecordedFacts(private val record: () -> DeviceFactsRecord) : DeviceFacts {
    override fun facts(): DeviceFactsRecord = record()
}

// ---------------------------------------------------------------- enrollment links

fun linksInBothFormsParseToTheSameCanonicalUri(uri: String) {
    val direct = readLink(uri).getOrThrow()
    assertTrue(direct.uri.startsWith("pramaan://enroll?"), direct.uri)
    assertTrue(direct.server.startsWith("https://"), direct.server)
    assertTrue(direct.host.isNotEmpty() && direct.host.none { it == ':' || it == '/' }, direct.host)
    assertTrue(direct.server.startsWith("https://${direct.host}"), direct.server)
    val query = uri.substringAfter('?')
    val universal = readLink("  https://links.pramaan.example/app/enroll?$query\n").getOrThrow()
    assertEquals(direct, universal, "the link's own host does not matter")
}

fun garbageIsNotAnEnrollmentCode(uri: String) {
    val query = uri.substringAfter('?')
    val garbage = listOf(
        "",
        "hello",
        "WIFI:S:office;T:WPA;P:secret;;",
        "http://links.pramaan.example/app/enroll?$query",
        "pramaan://enrollx?$query",
        "pramaan://enroll?" + query.split('&').filterNot { it.startsWith("pin=") }.joinToString("&"),
        "https://links.pramaan.example/app/enroll?" + "a".repeat(MAX_LINK),
    )
    for (text in garbage) {
        val state = startEnrollment(text, NOW) { fail("no preview for garbage: $text") }
        val failed = assertIs<EnrollState.Failed>(state, text.take(60))
        assertEquals(
            "This is not a Pramaan enrollment code. Scan the QR code department IT gave you.",
            failed.error.message,
        )
        assertFalse(failed.error.canRetry)
    }
}

fun expiryIsSaidInUnitsTheOfficerReads() {
    assertEquals("This QR code expires in 3 days.", expiryText(NOW + 3uL * 86_400uL + 5uL, NOW))
    assertEquals("This QR code expires in 5 hours.", expiryText(NOW + 5uL * 3_600uL, NOW))
    assertEquals("This QR code expires in 45 minutes.", expiryText(NOW + 45uL * 60uL, NOW))
    assertEquals("This QR code expires in a minute.", expiryText(NOW + 30uL, NOW))
    assertTrue(expiryText(NOW, NOW).startsWith("This QR code has expired."))
    assertTrue(expiryText(0uL, NOW).startsWith("This QR code has expired."))
}

fun enrollmentErrorsAreInTheOfficersWords() {
    val cases = mapOf(
        ApiException.Network("connection refused") to "Could not reach the department's server.",
        ApiException.Rejected(410u, "token_used", "used") to "This QR code has already been used.",
        ApiException.Rejected(410u, "token_expired", "expired") to "This QR code has expired.",
        ApiException.Rejected(410u, "token_cancelled", "cancelled") to "Department IT cancelled this QR code.",
        ApiException.Rejected(401u, "unknown_token", "?") to "The server does not know this QR code.",
        ApiException.AlreadyEnrolled("d-1") to "This phone is already enrolled.",
        ApiException.Revoked("phone lost") to "Department IT revoked this phone: phone lost.",
        ApiException.Platform("keystore") to "The phone's secure key storage did not answer.",
        ApiException.Storage("disk full") to "Pramaan could not save its data.",
        ApiException.Internal("bad cose") to "The server's answer could not be checked.",
        ApiException.ServerKeyChanged("pin mismatch") to "The Pramaan server's key changed and this phone did not check in",
    )
    for ((e, start) in cases) {
        val text = enrollmentError(e).message
        assertTrue(text.startsWith(start), "$e: $text")
        assertFalse(text.contains("cose") || text.contains("keystore"), "no raw detail: $text")
    }
    assertTrue(enrollmentError(ApiException.Network("x")).canRetry)
    assertFalse(enrollmentError(ApiException.Rejected(410u, "token_used", "")).canRetry)
    // A hostile reason stays one short line.
    val hostile = enrollmentError(ApiException.Revoked("a\u001b[31m\u202e" + "x".repeat(10_000))).message
    assertFalse(hostile.any { Character.isISOControl(it) || it == '\u202e' }, hostile.take(80))
    assertTrue(hostile.length < 320, "length ${hostile.length}")
}

/** Preview against the real server, confirm, enroll; the preview then says the code is used. */
fun previewConfirmEnrollAgainstTheServer(uri: String, agent: Agent, otherStateDir: String) {
    val state = startEnrollment(uri, NOW, agent::previewEnrollment)
    val confirm = assertIs<EnrollState.Confirm>(state, state.toString())
    assertEquals(
        "Enroll this phone for A. Shah (GAD-001), General Administration Department?",
        confirm.question,
    )
    assertEquals("Server: ${readLink(uri).getOrThrow().host}", confirm.server)
    assertTrue(confirm.expiry.startsWith("This QR code expires in"), confirm.expiry)
    assertFalse(agent.status().enrolled, "a preview enrolls nothing")

    val facts = RecordedFacts {
        deviceFacts(
            PhoneInfo("Pixel 8", "15", "2026-10-05", screenLock = true),
            appCatalog(),
            // A WhatsApp signed by someone else: a repackaged app, for R3.
            listOf(InstalledPackage("com.whatsapp", "2.26.1", listOf(cert("repackager")), false)),
            Confirmed(
                emails = listOf("a.shah@gujarat.gov.in"),
                groups = listOf(GroupRecord("WhatsApp", "gad-officers", true, normalizeHandle("+91 98000 00001"))),
            ),
        )
    }
    val info = agent.enroll(confirm.uri, facts, null)
    assertEquals("GAD-001", info.officerId)

    // This phone scans the code again: it is enrolled already.
    val again = assertIs<EnrollState.Failed>(startEnrollment(uri, NOW, agent::previewEnrollment))
    assertTrue(again.error.message.startsWith("This phone is already enrolled."), again.error.message)
    // Another phone scans the same code: the server says it has been used.
    Agent(otherStateDir, JavaSigner()).use { other ->
        val used = assertIs<EnrollState.Failed>(startEnrollment(uri, NOW, other::previewEnrollment))
        assertEquals("This QR code has already been used. Ask department IT for a new one.", used.error.message)
        assertFalse(other.status().enrolled)
    }

    // The check-in reports the mapped facts; the server finds the repackaged app (R3) and
    // the screen says what to do about it, in the core's words.
    val result = agent.checkIn(facts)
    assertTrue(result.delivered)
    val server = assertNotNull(result.result)
    assertEquals(Status.NONCOMPLIANT, server.status)
    assertEquals(listOf(Rule.R3), server.failures.map { it.rule }.filter { it != Rule.R5 })
    val now = System.currentTimeMillis().toULong() / 1000uL
    val screen = agent.screen(now)
    assertEquals(Tone.BAD, screen.tone)
    val item = screen.items.single { it.rule == Rule.R3 }
    assertTrue(item.action.startsWith("Uninstall this copy and install"), item.action)
    assertEquals(sentence(server.failures.first { it.rule == Rule.R3 }.hint), item.action)
    assertTrue(screen.canCheckIn)
    assertFalse(screen.canEnroll)

    val ui = StatusUi(screen).finished(result, screen)
    assertEquals("Check-in accepted by the server: some things need fixing.", ui.message)
    assertTrue(ui.checkInEnabled)

    // The confirmation screen from the enrolled policy: its domains and its group.
    val summary = assertNotNull(agent.policySummary())
    val confirmScreen = confirmState(summary, listOf("a.shah@gujarat.gov.in", "me@gmail.com"), null)
    assertEquals(listOf("gujarat.gov.in", "nic.in"), confirmScreen.domains)
    assertEquals(listOf("me@gmail.com"), confirmScreen.privateEmails)
    val group = confirmScreen.groups.single()
    assertEquals("GAD officers coordination", group.name)
    assertEquals("gad-officers", group.group)

    // Just checked in: the plan waits, and the schedule delays the periodic work.
    val plan = agent.plan(now)
    assertEquals(PlanAction.WAIT, plan.action, plan.reason)
    val periodic = assertIs<Schedule.Periodic>(schedule(plan, now))
    assertFalse(periodic.runNow)
    assertTrue(periodic.initialDelaySecs in 1L..periodic.periodSecs, periodic.toString())
}

// ---------------------------------------------------------------- facts mapping

fun sha256IsLowercaseHex() {
    assertEquals(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        sha256Hex("abc".toByteArray()),
    )
}

fun genuineSignerIsReported() {
    val apps = appRecords(
        listOf(messenger),
        listOf(InstalledPackage("org.example.messenger", "7.1", listOf(cert("publisher")), false)),
    )
    val app = apps.single()
    assertEquals("org.example.messenger", app.id)
    assertEquals(sha256Hex(cert("publisher")), app.signer)
    assertEquals("7.1", app.version)
    assertTrue(app.present)
}

fun repackagedAppReportsItsOwnSigner() {
    val app = appRecords(
        listOf(messenger),
        listOf(InstalledPackage("org.example.messenger", null, listOf(cert("repackager")), false)),
    ).single()
    assertEquals(sha256Hex(cert("repackager")), app.signer)
    assertFalse(app.signer in messenger.androidSigners)
    assertEquals("", app.version)
    assertTrue(app.present)
}

fun missingAppIsReportedAbsent() {
    val other = probe("Other", "org.example.other", cert("other"))
    val apps = appRecords(
        listOf(messenger, other),
        listOf(
            InstalledPackage("org.example.other", "1", listOf(cert("other")), false),
            InstalledPackage("com.unrelated", "1", listOf(cert("x")), false),
        ),
    )
    assertEquals(listOf("org.example.messenger", "org.example.other"), apps.map { it.id })
    val missing = apps[0]
    assertFalse(missing.present)
    assertNull(missing.signer)
    assertEquals("", missing.version)
    assertTrue(apps[1].present)
}

fun rotatedSignersAcceptTheLineage() {
    val history = listOf(cert("original"), cert("current"))
    val pkg = InstalledPackage("org.example.messenger", "8", history, false)
    // The catalog lists only the original key: the lineage proves the rotation.
    assertEquals(sha256Hex(cert("original")), reportedSigner(pkg, listOf(sha256Hex(cert("original")))))
    // Only the current key listed (upper case in the catalog is tolerated).
    assertEquals(
        sha256Hex(cert("current")),
        reportedSigner(pkg, listOf(sha256Hex(cert("current")).uppercase())),
    )
    // Neither: the current signer is reported, and fails R3.
    assertEquals(sha256Hex(cert("current")), reportedSigner(pkg, emptyList()))
    // No certificate at all.
    assertNull(reportedSigner(InstalledPackage("p", "1", emptyList(), false), listOf("aa")))
}

fun multipleSignersReportAStableDigest() {
    val a = cert("signer a")
    val b = cert("signer b")
    val accepted = listOf(sha256Hex(b))
    assertEquals(sha256Hex(b), reportedSigner(InstalledPackage("p", "1", listOf(a, b), true), accepted))
    assertEquals(sha256Hex(b), reportedSigner(InstalledPackage("p", "1", listOf(b, a), true), accepted))
    val unknown = listOf(cert("x"), cert("y"))
    val one = reportedSigner(InstalledPackage("p", "1", unknown, true), accepted)
    val other = reportedSigner(InstalledPackage("p", "1", unknown.reversed(), true), accepted)
    assertEquals(one, other, "the same digest whatever order Android lists signers in")
    assertEquals(unknown.map(::sha256Hex).min(), one)
}

fun theCatalogPackagesAreAllLookedFor() {
    val catalog = appCatalog()
    val packages = androidPackages(catalog)
    for (p in listOf("com.whatsapp", "com.whatsapp.w4b", "org.telegram.messenger", "org.thoughtcrime.securesms")) {
        assertTrue(p in packages, "$p missing from $packages")
    }
    assertEquals(packages.distinct(), packages)
    val facts = deviceFacts(
        PhoneInfo(" Pixel 8 ", "15", "2026-10-05", screenLock = false),
        catalog,
        emptyList(),
        Confirmed(listOf(" a.shah@gujarat.gov.in ", "a.shah@gujarat.gov.in", ""), emptyList()),
    )
    assertEquals(packages, facts.apps.map { it.id })
    assertTrue(facts.apps.none { it.present })
    assertEquals("Pixel 8", facts.model)
    assertEquals("android", facts.osName)
    assertFalse(facts.screenLock)
    assertEquals(listOf("a.shah@gujarat.gov.in"), facts.emails)
    val whatsapp = catalog.first { it.androidPackage == "com.whatsapp" }
    assertTrue(whatsapp.androidSigners.all { it.matches(Regex("[0-9a-f]{64}")) })
}

fun emailsAreSortedIntoOfficialAndNot() {
    val domains = listOf("gujarat.gov.in", "nic.in")
    assertTrue(isOfficial("a.shah@gujarat.gov.in", domains))
    assertTrue(isOfficial("a.shah@GAD.Gujarat.gov.in", domains))
    assertTrue(isOfficial("x@nic.in", domains))
    assertFalse(isOfficial("a.shah@gmail.com", domains))
    assertFalse(isOfficial("a@notgujarat.gov.in", domains))
    assertFalse(isOfficial("a@gujarat.gov.in.evil.example", domains))
    assertFalse(isOfficial("gujarat.gov.in", domains))

    var s = ConfirmState(domains, emptyList(), emptyList())
    s = addEmail(s, " a.shah@gujarat.gov.in ")
    s = addEmail(s, "me@gmail.com")
    s = addEmail(s, "A.SHAH@gujarat.gov.in")
    assertEquals(listOf("a.shah@gujarat.gov.in", "me@gmail.com"), s.emails.map { it.address })
    assertEquals(listOf(true, false), s.emails.map { it.official })
    assertEquals(
        "Not an official address (gujarat.gov.in, nic.in): remove this account from the phone",
        s.emails[1].note,
    )
    assertEquals(listOf("me@gmail.com"), s.privateEmails)
    for (bad in listOf("", "no-at-sign", "a@b", "@gujarat.gov.in", "a b@gujarat.gov.in", "x@" + "a".repeat(300) + ".in")) {
        val refused = addEmail(s, bad)
        assertNotNull(refused.problem, bad)
        assertEquals(s.emails, refused.emails)
    }
    s = removeEmail(s, "me@gmail.com")
    assertEquals(emptyList(), s.privateEmails)
    assertEquals(listOf("a.shah@gujarat.gov.in"), s.confirmed().emails)
}

fun groupHandlesAreValidatedAndNormalized() {
    val summary = PolicySummary(
        department = "GAD",
        departmentName = "General Administration Department",
        emailDomains = listOf("Gujarat.gov.in"),
        groups = listOf(
            GroupToConfirm("WhatsApp", "gad-officers", "GAD officers"),
            GroupToConfirm("Telegram", "gad-alerts", ""),
        ),
        apps = emptyList(),
        checkInHours = 24u,
    )
    var s = confirmState(summary, listOf("me@gmail.com"), null)
    assertEquals(listOf("gujarat.gov.in"), s.domains)
    assertEquals(listOf("me@gmail.com"), s.privateEmails)
    assertEquals("gad-alerts", s.groups[1].name, "a group without a name shows its id")
    assertTrue(s.canConfirm, "not a member: nothing to give")
    s = setGroup(s, 0, member = true, handle = "")
    assertFalse(s.canConfirm)
    assertEquals("Give your number or user name in WhatsApp.", s.groups[0].problem)
    s = setGroup(s, 0, member = true, handle = "+91 98000-00001")
    assertTrue(s.canConfirm)
    s = setGroup(s, 1, member = true, handle = "+91 phone")
    assertEquals("A phone number has only digits after +.", s.groups[1].problem)
    s = setGroup(s, 1, member = true, handle = "@a_shah")
    s = setGroup(s, 7, member = true, handle = "ignored")
    val confirmed = s.confirmed()
    assertEquals(
        listOf("+919800000001", "@a_shah"),
        confirmed.groups.map { it.handle },
    )
    assertEquals(listOf(true, true), confirmed.groups.map { it.member })

    // Stored and read back; the earlier answers pre-fill the screen.
    val text = encodeConfirmed(confirmed)
    assertEquals(confirmed, decodeConfirmed(text))
    val again = confirmState(summary, emptyList(), decodeConfirmed(text))
    assertEquals(s.groups.map { it.handle.filter { c -> c != ' ' && c != '-' } }, again.groups.map { it.handle })
    // Garbage in storage is dropped, not trusted.
    val junk = decodeConfirmed("email\tnot an email\ngroup\tWhatsApp\tg\tmaybe\th\nfoo\n\u0000\ngroup\tW\tg\t1\th\textra")
    assertEquals(Confirmed(emptyList(), emptyList()), junk)
}

// ---------------------------------------------------------------- status screen

private val r1 = failure(
    Rule.R1,
    "email me@gmail.com is not on a government domain (gujarat.gov.in)",
    "remove the account me@gmail.com from this phone; only official email (gujarat.gov.in) may be on it",
)
private val r2 = failure(
    Rule.R2,
    "the last check-in is older than 24 hours",
    "open Pramaan and check in",
)
private val r3 = failure(
    Rule.R3,
    "com.whatsapp is installed but not signed by its publisher",
    "uninstall this copy and install WhatsApp or Telegram from the Play Store",
)
private val r4 = failure(
    Rule.R4,
    "handle +919800000101 is not on IT's roster of the WhatsApp group gad-officers",
    "ask IT to add +919800000101 to the roster of group gad-officers on WhatsApp",
)
private val r5 = failure(
    Rule.R5,
    "no screen lock is set",
    "set a screen lock (PIN, pattern or password) in the phone's settings",
)

fun compliantScreen() {
    val s = statusScreen(enrolled(), NOW)
    assertEquals(Tone.GOOD, s.tone)
    assertEquals("Compliant", s.title)
    assertTrue(s.items.isEmpty())
    assertTrue(s.lastCheckIn.contains("1 hour ago") || s.lastCheckIn.contains("an hour ago"), s.lastCheckIn)
    assertNull(s.queued)
    assertNull(s.nextStep)
    assertTrue(s.canCheckIn)
    assertFalse(s.canEnroll)
}

fun eachRuleFailureHasItsItem() {
    for ((f, status) in listOf(
        r1 to Status.NONCOMPLIANT,
        r2 to Status.WARNING,
        r3 to Status.NONCOMPLIANT,
        r4 to Status.NONCOMPLIANT,
        r5 to Status.WARNING,
    )) {
        val s = statusScreen(
            enrolled(result = serverResult(status, f), local = localResult(status, f), word = status.name.lowercase()),
            NOW,
        )
        val expectedTone = if (status == Status.WARNING) Tone.ATTENTION else Tone.BAD
        assertEquals(expectedTone, s.tone, "${f.rule}")
        if (status == Status.NONCOMPLIANT) {
            assertEquals("1 thing to fix", s.title, "${f.rule}")
        } else {
            assertTrue(s.title.startsWith("Warning"), "${f.rule}: ${s.title}")
        }
        val item = s.items.single()
        assertEquals(f.rule, item.rule)
        assertEquals(sentence(f.hint), item.action, "${f.rule}: the action is the core's hint")
        assertTrue(item.problem.isNotBlank(), "${f.rule}")
        assertFalse(s.summary.contains("R${f.rule.ordinal + 1}"), "no rule numbers for officers: ${s.summary}")
        assertFalse(s.summary.contains("affirming") || s.summary.contains("contraindicated"), s.summary)
        assertTrue(s.canCheckIn)
    }
}

fun twoFailuresAreTwoThingsToFix() {
    val s = statusScreen(
        enrolled(
            result = serverResult(Status.NONCOMPLIANT, r1, r4),
            local = localResult(Status.NONCOMPLIANT, r1, r4),
            word = "noncompliant",
        ),
        NOW,
    )
    assertEquals("2 things to fix", s.title)
    assertEquals(listOf(sentence(r1.hint), sentence(r4.hint)), s.items.map { it.action })
}

fun theServersAnswerWinsOverTheLocalOne() {
    val s = statusScreen(
        enrolled(result = serverResult(Status.COMPLIANT), local = localResult(Status.NONCOMPLIANT, r3)),
        NOW,
    )
    assertEquals(Tone.GOOD, s.tone)
    assertTrue(s.items.isEmpty())
}

fun revokedScreen() {
    val revoked = enrolled(word = "revoked").copy(
        revoked = RevocationInfo(at = NOW - 60uL, reason = "phone reported lost"),
        hint = "ask IT for a new QR code and enroll this phone with it",
    )
    val s = statusScreen(revoked, NOW)
    assertEquals(Tone.BLOCKED, s.tone)
    assertEquals("Revoked by department IT", s.title)
    assertTrue(s.summary.contains("phone reported lost"), s.summary)
    assertNotNull(s.nextStep)
    assertFalse(s.canCheckIn)
    assertTrue(s.canEnroll)
    val ui = StatusUi(s)
    assertFalse(ui.checkInEnabled)
    assertTrue(ui.enrollVisible)

    val noReason = statusScreen(revoked.copy(revoked = RevocationInfo(NOW, null)), NOW)
    assertEquals("Revoked by department IT", noReason.title)
    assertEquals(Tone.BLOCKED, noReason.tone)
}

fun notEnrolledScreen() {
    val s = statusScreen(notEnrolled(), NOW)
    assertEquals(Tone.BLOCKED, s.tone)
    assertEquals("Not enrolled", s.title)
    assertFalse(s.canCheckIn)
    assertTrue(s.canEnroll)
    assertNotNull(s.nextStep)
    assertTrue(StatusUi(null).enrollVisible, "before the core answers, offer enrollment")
}

fun neverCheckedInScreen() {
    val s = statusScreen(enrolled(result = null, local = null, lastCheckInAt = null, word = "unknown"), NOW)
    assertEquals(Tone.ATTENTION, s.tone)
    assertEquals("Not checked in yet", s.title)
    assertTrue(s.canCheckIn)
}

fun queuedCheckInsAreCounted() {
    val one = statusScreen(enrolled(pending = 1uL), NOW)
    assertEquals("1 check-in waiting to be sent", one.queued)
    val three = statusScreen(enrolled(pending = 3uL), NOW)
    assertEquals("3 check-ins waiting to be sent", three.queued)
}

fun checkInButtonMessages() {
    val local = localResult(Status.COMPLIANT)
    val delivered = CheckInResult(5uL, true, serverResult(Status.WARNING, r5), local, 0uL, byteArrayOf())
    assertEquals("Check-in accepted by the server: this phone is compliant, with a warning.", checkInMessage(delivered))
    val queued = CheckInResult(5uL, false, null, local, 1uL, byteArrayOf())
    assertTrue(checkInMessage(queued).startsWith("No connection: the check-in is saved"), checkInMessage(queued))
    val screen = statusScreen(enrolled(), NOW)
    val running = StatusUi(screen).started()
    assertFalse(running.checkInEnabled, "one check-in at a time")
    val failed = running.failed(ApiException.Network("timeout"), null)
    assertFalse(failed.checkingIn)
    assertEquals(screen, failed.screen)
    assertTrue(failed.message!!.startsWith("Could not reach"), failed.message)
}

// ---------------------------------------------------------------- scheduling

private fun plan(action: PlanAction, at: ULong, period: ULong, network: Boolean = true) =
    CheckInPlan(action, at, period, network, "because")

fun scheduleFollowsThePlan() {
    assertEquals(Schedule.Cancel("because"), schedule(plan(PlanAction.STOP, 0uL, 0uL), NOW))
    for (action in listOf(PlanAction.CHECK_IN_NOW, PlanAction.FLUSH_OUTBOX)) {
        val p = assertIs<Schedule.Periodic>(schedule(plan(action, NOW, 28_800uL), NOW))
        assertTrue(p.runNow)
        assertTrue(p.needsNetwork)
        assertEquals(28_800L, p.periodSecs)
        assertEquals(28_800L, p.initialDelaySecs)
        assertEquals(BACKOFF_SECS, p.backoffSecs)
    }
    val wait = assertIs<Schedule.Periodic>(schedule(plan(PlanAction.WAIT, NOW + 3_600uL, 28_800uL), NOW))
    assertFalse(wait.runNow)
    assertEquals(3_600L, wait.initialDelaySecs)
    // Bounds: WorkManager's 15 minutes, a day, a far or past "at".
    assertEquals(MIN_PERIOD_SECS, (schedule(plan(PlanAction.WAIT, NOW, 10uL), NOW) as Schedule.Periodic).periodSecs)
    assertEquals(MAX_PERIOD_SECS, (schedule(plan(PlanAction.WAIT, NOW, ULong.MAX_VALUE), NOW) as Schedule.Periodic).periodSecs)
    val far = schedule(plan(PlanAction.WAIT, ULong.MAX_VALUE, 3_600uL), NOW) as Schedule.Periodic
    assertEquals(3_600L, far.initialDelaySecs, "a far-future time cannot silence the schedule")
    val past = schedule(plan(PlanAction.WAIT, NOW - 100uL, 3_600uL), NOW) as Schedule.Periodic
    assertEquals(0L, past.initialDelaySecs)
}

fun theCoresPlanDrivesTheSchedule() {
    assertIs<Schedule.Cancel>(schedule(planCheckIn(notEnrolled(), NOW), NOW))
    val revoked = enrolled().copy(revoked = RevocationInfo(NOW, null), word = "revoked")
    assertEquals(Step.STOP, workerStep(planCheckIn(revoked, NOW)))

    val first = planCheckIn(enrolled(result = null, local = null, lastCheckInAt = null, word = "unknown"), NOW)
    assertEquals(PlanAction.CHECK_IN_NOW, first.action)
    assertEquals(Step.CHECK_IN, workerStep(first))
    assertTrue((schedule(first, NOW) as Schedule.Periodic).runNow)

    val retry = planCheckIn(enrolled(retryAt = NOW + 600uL, reattest = true), NOW)
    assertEquals(PlanAction.WAIT, retry.action, "the server's Retry-After comes first")
    assertEquals(600L, (schedule(retry, NOW) as Schedule.Periodic).initialDelaySecs)
    assertEquals(Step.NOTHING, workerStep(retry))

    val recent = planCheckIn(enrolled(lastCheckInAt = NOW - 60uL), NOW)
    assertEquals(PlanAction.WAIT, recent.action)
    val queued = planCheckIn(enrolled(lastCheckInAt = NOW - 60uL, pending = 2uL), NOW)
    assertEquals(PlanAction.FLUSH_OUTBOX, queued.action)
    assertEquals(Step.FLUSH, workerStep(queued))
    val due = planCheckIn(enrolled(lastCheckInAt = NOW - 86_400uL), NOW)
    assertEquals(PlanAction.CHECK_IN_NOW, due.action)
    // 24 h policy: 8 h period, above the 15 min floor and a day's allowance of 48.
    assertEquals(28_800L, (schedule(due, NOW) as Schedule.Periodic).periodSecs)
}

fun workerRunsEndAsTheErrorSays() {
    assertEquals(RunEnd.RETRY, runEnd(ApiException.Network("offline")))
    assertEquals(RunEnd.CANCEL, runEnd(ApiException.Revoked(null)))
    assertEquals(RunEnd.CANCEL, runEnd(ApiException.NotEnrolled()))
    assertEquals(RunEnd.RETRY, runEnd(ApiException.Rejected(429u, "rate_limited", "")))
    assertEquals(RunEnd.RETRY, runEnd(ApiException.Rejected(503u, "internal", "")))
    assertEquals(RunEnd.CANCEL, runEnd(ApiException.Rejected(403u, "revoked", "")))
    assertEquals(RunEnd.FAILURE, runEnd(ApiException.Rejected(400u, "malformed", "")))
    assertEquals(RunEnd.FAILURE, runEnd(ApiException.Internal("bad answer")))
    assertEquals(RunEnd.SUCCESS, runEnd(delivered = true))
    assertEquals(RunEnd.RETRY, runEnd(delivered = false))
}

// ---------------------------------------------------------------- runner

fun main(args: Array<String>) {
    if (args.size < 2) {
        System.err.println("usage: LogicTestsKt <enrollment-uri> <state-dir>")
        exitProcess(2)
    }
    val uri = args[0]
    val agent = Agent(args[1], JavaSigner())
    val tests: List<Pair<String, () -> Unit>> = listOf(
        "links in both forms parse to the same canonical uri" to { linksInBothFormsParseToTheSameCanonicalUri(uri) },
        "garbage is not an enrollment code" to { garbageIsNotAnEnrollmentCode(uri) },
        "expiry is said in units the officer reads" to ::expiryIsSaidInUnitsTheOfficerReads,
        "enrollment errors are in the officer's words" to ::enrollmentErrorsAreInTheOfficersWords,
        "preview, confirm, enroll against the server" to { previewConfirmEnrollAgainstTheServer(uri, agent, args[1] + "-other") },
        "sha256 is lowercase hex" to ::sha256IsLowercaseHex,
        "genuine signer is reported" to ::genuineSignerIsReported,
        "repackaged app reports its own signer" to ::repackagedAppReportsItsOwnSigner,
        "missing app is reported absent" to ::missingAppIsReportedAbsent,
        "rotated signers accept the lineage" to ::rotatedSignersAcceptTheLineage,
        "multiple signers report a stable digest" to ::multipleSignersReportAStableDigest,
        "the catalog packages are all looked for" to ::theCatalogPackagesAreAllLookedFor,
        "emails are sorted into official and not" to ::emailsAreSortedIntoOfficialAndNot,
        "group handles are validated and normalized" to ::groupHandlesAreValidatedAndNormalized,
        "compliant screen" to ::compliantScreen,
        "each rule failure has its item" to ::eachRuleFailureHasItsItem,
        "two failures are two things to fix" to ::twoFailuresAreTwoThingsToFix,
        "the server's answer wins over the local one" to ::theServersAnswerWinsOverTheLocalOne,
        "revoked screen" to ::revokedScreen,
        "not enrolled screen" to ::notEnrolledScreen,
        "never checked in screen" to ::neverCheckedInScreen,
        "queued check-ins are counted" to ::queuedCheckInsAreCounted,
        "check-in button messages" to ::checkInButtonMessages,
        "schedule follows the plan" to ::scheduleFollowsThePlan,
        "the core's plan drives the schedule" to ::theCoresPlanDrivesTheSchedule,
        "worker runs end as the error says" to ::workerRunsEndAsTheErrorSays,
    )
    var passed = 0
    var failed = 0
    for ((name, body) in tests) {
        try {
            body()
            passed++
            println("ok   $name")
        } catch (t: Throwable) {
            failed++
            println("FAIL $name: $t")
        }
    }
    println("$passed passed, $failed failed")
    agent.close()
    exitProcess(if (failed == 0) 0 else 1)
}
