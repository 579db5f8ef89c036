// Device facts from Android APIs: installed messaging apps with the SHA-256 of their
// signing certificate (rule R3: a repackaged app has another signer), official email
// accounts from AccountManager (R1), screen lock from KeyguardManager (R5). Group
// membership (R4) is what the officer confirms in the app; it is passed in.
//
// Not compiled in this repository's CI (no Android SDK); syntax is checked with
// tree-sitter-kotlin by tests/tests/bindings_swift.rs.
package gov.gujarat.pramaan.platform

import android.accounts.AccountManager
import android.app.KeyguardManager
import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import gov.gujarat.pramaan.AppRecord
import gov.gujarat.pramaan.DeviceFacts
import gov.gujarat.pramaan.DeviceFactsRecord
import gov.gujarat.pramaan.DevicePlatform
import gov.gujarat.pramaan.GroupRecord
import java.security.MessageDigest

class PackageFacts(
    private val context: Context,
    private val packages: List<String>,
    private val groups: () -> List<GroupRecord>,
) : DeviceFacts {
    override fun facts(): DeviceFactsRecord {
        val keyguard = context.getSystemService(KeyguardManager::class.java)
        return DeviceFactsRecord(
            platform = DevicePlatform.ANDROID,
            model = Build.MODEL,
            osName = "android",
            osVersion = Build.VERSION.RELEASE,
            patchLevel = Build.VERSION.SECURITY_PATCH,
            screenLock = keyguard?.isDeviceSecure ?: false,
            emails = AccountManager.get(context).accounts
                .map { it.name }
                .filter { it.contains('@') },
            apps = packages.map { app(it) },
            groups = groups(),
        )
    }

    private fun app(name: String): AppRecord {
        val pm = context.packageManager
        return try {
            val info = pm.getPackageInfo(name, PackageManager.GET_SIGNING_CERTIFICATES)
            val cert = info.signingInfo?.apkContentsSigners?.firstOrNull()?.toByteArray()
            AppRecord(
                id = name,
                signer = cert?.let { sha256Hex(it) },
                version = info.versionName ?: "",
                present = true,
            )
        } catch (e: PackageManager.NameNotFoundException) {
            AppRecord(id = name, signer = null, version = "", present = false)
        }
    }

    private fun sha256Hex(bytes: ByteArray): String =
        MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it) }
}
