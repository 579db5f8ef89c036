// Applies logic/Scheduling.kt's Schedule to WorkManager: one unique periodic work (UPDATE
// keeps a single schedule whose period and first delay follow the latest plan), a
// one-time work for "now", both with the network constraint and exponential backoff.
//
// Not compiled in this repository's CI (no Android SDK).
package gov.gujarat.pramaan.app

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import gov.gujarat.pramaan.logic.NOW_WORK
import gov.gujarat.pramaan.logic.PERIODIC_WORK
import gov.gujarat.pramaan.logic.Schedule
import java.util.concurrent.TimeUnit

fun applySchedule(context: Context, s: Schedule) {
    val work = WorkManager.getInstance(context)
    when (s) {
        is Schedule.Cancel -> {
            work.cancelUniqueWork(PERIODIC_WORK)
            work.cancelUniqueWork(NOW_WORK)
        }
        is Schedule.Periodic -> {
            val constraints = Constraints.Builder()
                .setRequiredNetworkType(if (s.needsNetwork) NetworkType.CONNECTED else NetworkType.NOT_REQUIRED)
                .build()
            val periodic = PeriodicWorkRequestBuilder<CheckInWorker>(s.periodSecs, TimeUnit.SECONDS)
                .setInitialDelay(s.initialDelaySecs, TimeUnit.SECONDS)
                .setConstraints(constraints)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, s.backoffSecs, TimeUnit.SECONDS)
                .build()
            work.enqueueUniquePeriodicWork(PERIODIC_WORK, ExistingPeriodicWorkPolicy.UPDATE, periodic)
            if (s.runNow) {
                val now = OneTimeWorkRequestBuilder<CheckInWorker>()
                    .setConstraints(constraints)
                    .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, s.backoffSecs, TimeUnit.SECONDS)
                    .build()
                // KEEP: a "now" already waiting (or running) is the same work.
                work.enqueueUniqueWork(NOW_WORK, ExistingWorkPolicy.KEEP, now)
            }
        }
    }
}
