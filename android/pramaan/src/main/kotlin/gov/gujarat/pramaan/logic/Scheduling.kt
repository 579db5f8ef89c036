// What to ask WorkManager for, from the core's CheckInPlan. The core decides when a check-in
// is due (its policy window, the server's Retry-After, re-attestation, the outbox); this
// file only translates that into WorkManager's terms, and the worker's result into
// success / retry / stop:
//  - Stop (not enrolled, revoked): cancel the periodic work;
//  - otherwise one unique periodic work of the plan's period (at least WorkManager's 15
//    minutes, at most a day whatever the plan says), needing a connected network, with
//    exponential backoff from 60 s, and
//    - CheckInNow / FlushOutbox: also a one-time work now (the periodic one may be hours away);
//    - Wait: the periodic work's first run delayed until the plan's time (at most one
//      period: a garbage far-future time cannot silence the schedule).
//
// Plain Kotlin: no android.*, androidx.* or com.google.* import.
package gov.gujarat.pramaan.logic

import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.CheckInPlan
import gov.gujarat.pramaan.PlanAction

/** WorkManager's shortest periodic interval (PeriodicWorkRequest.MIN_PERIODIC_INTERVAL_MILLIS). */
const val MIN_PERIOD_SECS = 900L

/** The longest period used, whatever a plan says. */
const val MAX_PERIOD_SECS = 86_400L

/** First backoff delay after a failed run (WorkManager doubles it, up to 5 hours). */
const val BACKOFF_SECS = 60L

/** The unique name of the periodic work. */
const val PERIODIC_WORK = "pramaan-check-in"

/** The unique name of the one-time work. */
const val NOW_WORK = "pramaan-check-in-now"

/** What to enqueue. */
sealed interface Schedule {
    /** Cancel both works: nothing to do until the officer enrolls (again). */
    data class Cancel(val reason: String) : Schedule

    /**
     * The periodic work ([periodSecs], first run after [initialDelaySecs]) and, if
     * [runNow], a one-time work now. Both need the network when [needsNetwork].
     */
    data class Periodic(
        val periodSecs: Long,
        val initialDelaySecs: Long,
        val runNow: Boolean,
        val needsNetwork: Boolean,
        val backoffSecs: Long,
        val reason: String,
    ) : Schedule
}

/** The schedule for [plan], computed at [now] (Unix seconds). */
fun schedule(plan: CheckInPlan, now: ULong): Schedule {
    val reason = oneLine(plan.reason)
    val period = clampSecs(plan.periodSecs, MIN_PERIOD_SECS, MAX_PERIOD_SECS)
    return when (plan.action) {
        PlanAction.STOP -> Schedule.Cancel(reason)
        PlanAction.CHECK_IN_NOW, PlanAction.FLUSH_OUTBOX -> Schedule.Periodic(
            periodSecs = period,
            initialDelaySecs = period,
            runNow = true,
            needsNetwork = true,
            backoffSecs = BACKOFF_SECS,
            reason = reason,
        )
        PlanAction.WAIT -> Schedule.Periodic(
            periodSecs = period,
            initialDelaySecs = if (plan.at > now) clampSecs(plan.at - now, 0L, period) else 0L,
            runNow = false,
            needsNetwork = plan.needsNetwork,
            backoffSecs = BACKOFF_SECS,
            reason = reason,
        )
    }
}

private fun clampSecs(v: ULong, min: Long, max: Long): Long =
    if (v > max.toULong()) max else maxOf(v.toLong(), min)

/** What a worker run does, from the plan read at its start. */
enum class Step { CHECK_IN, FLUSH, NOTHING, STOP }

/** The step for [plan]: a worker checks in, flushes the outbox, or has nothing to do yet. */
fun workerStep(plan: CheckInPlan): Step = when (plan.action) {
    PlanAction.CHECK_IN_NOW -> Step.CHECK_IN
    PlanAction.FLUSH_OUTBOX -> Step.FLUSH
    PlanAction.WAIT -> Step.NOTHING
    PlanAction.STOP -> Step.STOP
}

/** How a worker run ends: WorkManager's Result.success / retry / failure, or cancel the work. */
enum class RunEnd { SUCCESS, RETRY, FAILURE, CANCEL }

/**
 * The end of a run that threw [e]: a network failure or a busy server is retried with
 * backoff; revoked, not enrolled or a server key this phone never learnt cancels the
 * schedule (the status screen says why);
 * anything else fails this run (the periodic work comes back next period).
 */
fun runEnd(e: ApiException): RunEnd = when (e) {
    is ApiException.Network -> RunEnd.RETRY
    is ApiException.Revoked, is ApiException.NotEnrolled, is ApiException.ServerKeyChanged -> RunEnd.CANCEL
    is ApiException.Rejected -> when {
        e.code == "revoked" -> RunEnd.CANCEL
        e.code == "rate_limited" || e.code == "quota_exceeded" || e.status.toInt() >= 500 -> RunEnd.RETRY
        else -> RunEnd.FAILURE
    }
    is ApiException.Storage, is ApiException.Platform -> RunEnd.RETRY
    is ApiException.InvalidInput, is ApiException.AlreadyEnrolled, is ApiException.Internal -> RunEnd.FAILURE
}

/**
 * The end of a check-in that returned: queued offline (not [delivered]) is retried so the
 * outbox is sent when the network is back; delivered is a success.
 */
fun runEnd(delivered: Boolean): RunEnd = if (delivered) RunEnd.SUCCESS else RunEnd.RETRY
