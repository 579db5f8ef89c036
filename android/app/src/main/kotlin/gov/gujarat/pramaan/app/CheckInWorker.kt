// The background check-in: reads the core's plan, does what it says (check in, send the
// outbox, or nothing yet), maps failures to WorkManager's retry (with backoff) or to
// cancelling the schedule (revoked, not enrolled), and re-plans for the next run.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.app

import android.content.Context
import android.util.Log
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters
import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.logic.RunEnd
import gov.gujarat.pramaan.logic.Step
import gov.gujarat.pramaan.logic.runEnd
import gov.gujarat.pramaan.logic.workerStep
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

private const val TAG = "PramaanWorker"

class CheckInWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {

    override suspend fun doWork(): Result = withContext(Dispatchers.IO) {
        val app = applicationContext as PramaanApp
        val agent = app.agentOrNull() ?: return@withContext Result.failure()
        val end = try {
            val plan = agent.plan(nowSecs())
            Log.i(TAG, "plan: ${plan.action} (${plan.reason})")
            when (workerStep(plan)) {
                Step.CHECK_IN -> runEnd(agent.checkIn(app.facts()).delivered)
                Step.FLUSH -> {
                    agent.flushOutbox()
                    if (agent.pendingCount() == 0uL) RunEnd.SUCCESS else RunEnd.RETRY
                }
                Step.NOTHING -> RunEnd.SUCCESS
                Step.STOP -> RunEnd.CANCEL
            }
        } catch (e: ApiException) {
            Log.w(TAG, "check-in failed: ${e.javaClass.simpleName}")
            runEnd(e)
        }
        // The next run follows the plan after this one (a Stop plan cancels the work).
        app.reschedule(fromWorker = true)
        when (end) {
            RunEnd.SUCCESS, RunEnd.CANCEL -> Result.success()
            RunEnd.RETRY -> Result.retry()
            RunEnd.FAILURE -> Result.failure()
        }
    }
}
