// Turns what Android reported (recorded as plain data: PackageManager's packages and their
// signing certificates, Build, KeyguardManager) and what the officer confirmed (email
// accounts, group handles) into the core's DeviceFactsRecord. The Android-API side
// (platform/PackageFacts.kt) only reads the platform into these records, so everything that
// decides what a check-in reports is here, compiled and tested on the JVM.
//
// Signers. The catalog lists, per package, the SHA-256 (lowercase hex) of the accepted
// signing certificates, and the core's rule R3 compares the one digest an AppRecord
// carries with that list. Android gives a package either
//  - a signing-certificate history (one signer, possibly rotated with APK Signature Scheme
//    v3: every certificate in the proven lineage, original first, current last), or
//  - several current signers (hasMultipleSigners: apkContentsSigners, no rotation).
// What we report, deliberately the same for both cases:
//  - if any certificate of the package is on the probe's accepted list, that digest: a
//    rotated app whose lineage contains an accepted key is genuine (PackageManager's own
//    hasSigningCertificate() accepts the lineage the same way), and every signer of a
//    multi-signer APK has signed the whole APK, so a publisher's signature among them means
//    the publisher signed these contents;
//  - otherwise the current signer's digest (the last of the history; for multi-signer, the
//    smallest digest, so the report is stable whatever order Android lists them in), which
//    the server will find is not the publisher's: a repackaged app fails R3, visibly;
//  - an installed package without any certificate reports no signer (the server decides);
//  - a catalog package that is not installed reports present = false.
//
// Plain Kotlin: no android.*, androidx.* or com.google.* import.
package gov.gujarat.pramaan.logic

import gov.gujarat.pramaan.AppProbe
import gov.gujarat.pramaan.AppRecord
import gov.gujarat.pramaan.DeviceFactsRecord
import gov.gujarat.pramaan.DevicePlatform
import gov.gujarat.pramaan.GroupRecord
import java.security.MessageDigest

/**
 * One package as PackageManager reported it (`getPackageInfo(name,
 * GET_SIGNING_CERTIFICATES)`). [signingCertificates]: the DER certificates,
 * `signingInfo.signingCertificateHistory` (original first, current last) or, when
 * [hasMultipleSigners], `signingInfo.apkContentsSigners`.
 */
class InstalledPackage(
    val packageName: String,
    val versionName: String?,
    val signingCertificates: List<ByteArray>,
    val hasMultipleSigners: Boolean,
)

/** The phone itself, as Build and KeyguardManager reported it. */
data class PhoneInfo(
    val model: String,
    val osVersion: String,
    val patchLevel: String,
    val screenLock: Boolean,
)

/** What the officer confirmed on the confirmation screen (see ConfirmScreen.kt). */
data class Confirmed(
    val emails: List<String>,
    val groups: List<GroupRecord>,
)

/** Lowercase hex SHA-256 of `bytes` (a DER certificate), as the catalog writes digests. */
fun sha256Hex(bytes: ByteArray): String =
    MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it) }

/** The Android packages to look for: every probe's package, once, in catalog order. */
fun androidPackages(probes: List<AppProbe>): List<String> =
    probes.mapNotNull { p -> p.androidPackage?.trim()?.takeIf { it.isNotEmpty() } }.distinct()

/**
 * The digest to report for [pkg] (see the file comment): an accepted one if the package
 * holds any, else the current signer's, `null` without certificates.
 */
fun reportedSigner(pkg: InstalledPackage, accepted: Collection<String>): String? {
    val digests = pkg.signingCertificates.map(::sha256Hex)
    if (digests.isEmpty()) return null
    val wanted = accepted.map { it.trim().lowercase() }.toSet()
    digests.firstOrNull { it in wanted }?.let { return it }
    return if (pkg.hasMultipleSigners) digests.min() else digests.last()
}

/**
 * One AppRecord per Android package of [probes]: installed ([installed] has it) with its
 * reported signer and version, or `present = false`. Packages installed but not in the
 * catalog are not reported (the core asks only about sanctioned apps).
 */
fun appRecords(probes: List<AppProbe>, installed: List<InstalledPackage>): List<AppRecord> {
    val byName = installed.associateBy { it.packageName }
    return androidPackages(probes).map { name ->
        val accepted = probes.filter { it.androidPackage?.trim() == name }
            .flatMap { it.androidSigners }
        when (val pkg = byName[name]) {
            null -> AppRecord(id = name, signer = null, version = "", present = false)
            else -> AppRecord(
                id = name,
                signer = reportedSigner(pkg, accepted),
                version = pkg.versionName.orEmpty(),
                present = true,
            )
        }
    }
}

/** The facts a check-in reports, from the recorded platform data and the officer's answers. */
fun deviceFacts(
    phone: PhoneInfo,
    probes: List<AppProbe>,
    installed: List<InstalledPackage>,
    confirmed: Confirmed,
): DeviceFactsRecord = DeviceFactsRecord(
    platform = DevicePlatform.ANDROID,
    model = phone.model.trim(),
    osName = "android",
    osVersion = phone.osVersion.trim(),
    patchLevel = phone.patchLevel.trim(),
    screenLock = phone.screenLock,
    emails = confirmed.emails.map { it.trim() }.filter { it.isNotEmpty() }.distinct(),
    apps = appRecords(probes, installed),
    groups = confirmed.groups,
)
