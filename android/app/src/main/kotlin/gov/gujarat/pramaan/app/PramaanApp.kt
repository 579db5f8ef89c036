// The Application: one Agent per process on filesDir/pramaan (the core's state directory),
// the Keystore signer and evidence provider, the officer's confirmed answers, and the
// check-in schedule. Everything that decides something is in the core or in logic/.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.app

import android.app.Application
import android.content.Context
import android.util.Log
import gov.gujarat.pramaan.Agent
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.AppProbe
import gov.gujarat.pramaan.appCatalog
import gov.gujarat.pramaan.logic.Confirmed
import gov.gujarat.pramaan.logic.Schedule
import gov.gujarat.pramaan.logic.decodeConfirmed
import gov.gujarat.pramaan.logic.encodeConfirmed
import gov.gujarat.pramaan.logic.schedule
import gov.gujarat.pramaan.platform.KeystoreEvidence
import gov.gujarat.pramaan.platform.KeystoreSigner
import gov.gujarat.pramaan.platform.PackageFacts
import java.io.File

private const val TAG = "Pramaan"
private const val PREFS = "pramaan"
private const val CONFIRMED = "confirmed"

/** Unix seconds now (the core takes time as an argument). */
fun nowSecs(): ULong = (System.currentTimeMillis() / 1000L).toULong()

class PramaanApp : Application() {
    val signer: KeystoreSigner by lazy { KeystoreSigner(this) }

    private val agentResult: Result<Agent> by lazy {
        val dir = File(filesDir, "pramaan").apply { mkdirs() }
        try {
            Result.success(Agent.withEvidence(dir.path, signer, KeystoreEvidence(this, signer)))
        } catch (e: ApiException) {
            Log.e(TAG, "cannot open the agent's state", e)
            Result.failure(e)
        }
    }

    /** The agent, or the ApiException that kept it from opening (storage). */
    val agent: Agent get() = agentResult.getOrThrow()

    /** The agent, or null if it cannot open (the UI shows the error). */
    fun agentOrNull(): Agent? = agentResult.getOrNull()

    /** The apps to look for: the enrolled policy's, else the built-in catalog. */
    fun probes(): List<AppProbe> = try {
        agentOrNull()?.policySummary()?.apps ?: appCatalog()
    } catch (e: ApiException) {
        Log.w(TAG, "policy summary unavailable: ${e.javaClass.simpleName}")
        appCatalog()
    }

    /** The device facts for a check-in or enrollment (read fresh at each call). */
    fun facts(): PackageFacts = PackageFacts(this, ::probes, ::loadConfirmed)

    /** What the officer confirmed on the confirmation screen (empty before). */
    fun loadConfirmed(): Confirmed =
        decodeConfirmed(getSharedPreferences(PREFS, Context.MODE_PRIVATE).getString(CONFIRMED, "").orEmpty())

    /** Stores the officer's answers (app-private preferences). */
    fun saveConfirmed(c: Confirmed) {
        getSharedPreferences(PREFS, Context.MODE_PRIVATE).edit().putString(CONFIRMED, encodeConfirmed(c)).apply()
    }

    /**
     * Asks the core for the plan now and applies it to WorkManager. The worker passes
     * [fromWorker]: its own result (retry with backoff) already covers "now".
     */
    fun reschedule(fromWorker: Boolean = false) {
        val agent = agentOrNull() ?: return
        try {
            val now = nowSecs()
            val s = schedule(agent.plan(now), now)
            applySchedule(this, if (fromWorker && s is Schedule.Periodic) s.copy(runNow = false) else s)
        } catch (e: ApiException) {
            Log.w(TAG, "no check-in plan: ${e.javaClass.simpleName}")
        }
    }

    override fun onCreate() {
        super.onCreate()
        reschedule()
    }
}
