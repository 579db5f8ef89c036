// Enrollment, from the text of a scanned QR code or a tapped link to the question the
// officer answers: "Enroll this phone for <officer name> (<id>), <department name>?". The
// core parses the link (pramaan://enroll?... or the https universal link) and asks the
// server what the token is for (nothing is consumed); this file turns both answers, and
// every failure, into the screen's state. The Activity only shows the state and calls
// Agent.enroll with [EnrollState.Confirm.uri] when the officer confirms.
//
// Plain Kotlin: no android.*, androidx.* or com.google.* import.
package gov.gujarat.pramaan.logic

import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.EnrollLink
import gov.gujarat.pramaan.EnrollmentPreview
import gov.gujarat.pramaan.parseEnrollLink

/** Longest QR or link text looked at; IT's links are a few hundred characters. */
const val MAX_LINK = 4096

/** The enrollment screen. */
sealed interface EnrollState {
    /** Waiting for a scan (or for the link the app was opened with). */
    data object Scanning : EnrollState

    /** Asking the server what the code is for. */
    data class Checking(val host: String) : EnrollState

    /** The question to confirm; [uri] is what Agent.enroll gets when the officer says yes. */
    data class Confirm(
        val uri: String,
        val question: String,
        val server: String,
        val expiry: String,
    ) : EnrollState

    /** Something failed: [error] says what and whether to try again. */
    data class Failed(val error: OfficerError) : EnrollState
}

/** The parsed link, or the screen saying why the text is not one. */
fun readLink(text: String): Result<EnrollLink> {
    if (text.length > MAX_LINK) {
        return Result.failure(ApiException.InvalidInput("link longer than $MAX_LINK characters"))
    }
    return try {
        Result.success(parseEnrollLink(text.trim()))
    } catch (e: ApiException) {
        Result.failure(e)
    }
}

/**
 * The whole step from scanned [text] to the confirm question: parse, then [preview] (the
 * app passes `agent::previewEnrollment`) with the canonical URI. [now]: Unix seconds.
 */
fun startEnrollment(text: String, now: ULong, preview: (String) -> EnrollmentPreview): EnrollState {
    val link = readLink(text).getOrElse { return failed(it) }
    return try {
        confirmState(link, preview(link.uri), now)
    } catch (e: ApiException) {
        failed(e)
    }
}

/** The confirm question for [p], asked about [link]. */
fun confirmState(link: EnrollLink, p: EnrollmentPreview, now: ULong): EnrollState {
    val name = oneLine(p.officerName, 80).ifEmpty { "an unnamed officer" }
    val id = oneLine(p.officerId, 40)
    val department = oneLine(p.departmentName, 80).ifEmpty { oneLine(p.department, 40) }
    return EnrollState.Confirm(
        uri = link.uri,
        question = "Enroll this phone for $name ($id), $department?",
        server = "Server: ${oneLine(link.host, 100)}",
        expiry = expiryText(p.expiresAt, now),
    )
}

/** "This QR code expires in 3 days" (or hours, minutes), or that it has expired. */
fun expiryText(expiresAt: ULong, now: ULong): String {
    if (expiresAt <= now) return "This QR code has expired. Ask department IT for a new one."
    val left = expiresAt - now
    val (n, unit) = when {
        left >= 172_800uL -> left / 86_400uL to "days"
        left >= 7_200uL -> left / 3_600uL to "hours"
        left >= 120uL -> left / 60uL to "minutes"
        else -> 0uL to ""
    }
    return if (unit.isEmpty()) "This QR code expires in a minute." else "This QR code expires in $n $unit."
}

private fun failed(e: Throwable): EnrollState.Failed = EnrollState.Failed(
    when (e) {
        is ApiException -> enrollmentError(e)
        else -> OfficerError("Something went wrong. Show IT this message.", canRetry = false)
    },
)
