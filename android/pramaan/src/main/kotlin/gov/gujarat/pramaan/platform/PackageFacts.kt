// Reads the device facts from Android APIs into the plain records of logic/FactsMapping.kt,
// which decides what the check-in reports:
//  - sanctioned apps: PackageManager.getPackageInfo(name, GET_SIGNING_CERTIFICATES) for
//    each catalog package (declared in the app's <queries>, else invisible since API 30);
//    the signing-certificate history, or all current signers of a multi-signer APK;
//  - screen lock: KeyguardManager.isDeviceSecure;
//  - model, Android version, security patch level: Build;
//  - emails and group handles: what the officer confirmed (ConfirmScreen), passed in.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.platform

import android.accounts.AccountManager
import android.app.KeyguardManager
import android.content.Context
import android.content.pm.PackageInfo
import android.content.pm.PackageManager
import android.os.Build
import gov.gujarat.pramaan.AppProbe
import gov.gujarat.pramaan.DeviceFacts
import gov.gujarat.pramaan.DeviceFactsRecord
import gov.gujarat.pramaan.logic.Confirmed
import gov.gujarat.pramaan.logic.InstalledPackage
import gov.gujarat.pramaan.logic.PhoneInfo
import gov.gujarat.pramaan.logic.androidPackages
import gov.gujarat.pramaan.logic.deviceFacts

class PackageFacts(
    private val context: Context,
    private val probes: () -> List<AppProbe>,
    private val confirmed: () -> Confirmed,
) : DeviceFacts {
    override fun facts(): DeviceFactsRecord {
        val apps = probes()
        return deviceFacts(phoneInfo(context), apps, installedPackages(context, androidPackages(apps)), confirmed())
    }
}

/** Build and KeyguardManager, as plain data. */
fun phoneInfo(context: Context): PhoneInfo {
    val keyguard = context.getSystemService(KeyguardManager::class.java)
    return PhoneInfo(
        model = Build.MODEL.orEmpty(),
        osVersion = Build.VERSION.RELEASE.orEmpty(),
        patchLevel = Build.VERSION.SECURITY_PATCH.orEmpty(),
        screenLock = keyguard?.isDeviceSecure ?: false,
    )
}

/** The packages of [names] that are installed, with their signing certificates. */
fun installedPackages(context: Context, names: List<String>): List<InstalledPackage> =
    names.mapNotNull { name -> packageInfo(context.packageManager, name)?.let { toInstalled(name, it) } }

private fun packageInfo(pm: PackageManager, name: String): PackageInfo? = try {
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
        pm.getPackageInfo(
            name,
            PackageManager.PackageInfoFlags.of(PackageManager.GET_SIGNING_CERTIFICATES.toLong()),
        )
    } else {
        @Suppress("DEPRECATION")
        pm.getPackageInfo(name, PackageManager.GET_SIGNING_CERTIFICATES)
    }
} catch (e: PackageManager.NameNotFoundException) {
    null
}

private fun toInstalled(name: String, info: PackageInfo): InstalledPackage {
    val signing = info.signingInfo
    val multiple = signing?.hasMultipleSigners() ?: false
    val certs = when {
        signing == null -> emptyList()
        multiple -> signing.apkContentsSigners.orEmpty().toList()
        else -> signing.signingCertificateHistory.orEmpty().toList()
    }
    return InstalledPackage(
        packageName = name,
        versionName = info.versionName,
        signingCertificates = certs.map { it.toByteArray() },
        hasMultipleSigners = multiple,
    )
}

/**
 * Email accounts Android lets this app see (since Android 8 only those the user made
 * visible to it): they pre-fill the confirmation screen, where the officer adds the rest.
 */
fun visibleEmailAccounts(context: Context): List<String> =
    AccountManager.get(context).accounts.map { it.name }.filter { '@' in it }.distinct()
