// The status screen's Kotlin-side state, kept thin: the texts (title, summary, what is
// missing and what to do, last check-in, queued, next step) are the core's StatusScreen,
// rendered as they are. What is added here is only what the core cannot know: whether a
// "Check in now" is running, and the one-line outcome of the last button press.
//
// Plain Kotlin: no android.*, androidx.* or com.google.* import.
package gov.gujarat.pramaan.logic

import gov.gujarat.pramaan.ApiException
import gov.gujarat.pramaan.CheckInResult
import gov.gujarat.pramaan.Status
import gov.gujarat.pramaan.StatusScreen
import gov.gujarat.pramaan.Tone

/** What MainActivity shows. */
data class StatusUi(
    val screen: StatusScreen?,
    val checkingIn: Boolean = false,
    val message: String? = null,
) {
    /** The "Check in now" button: shown when the core says so, disabled while running. */
    val checkInEnabled: Boolean get() = screen?.canCheckIn == true && !checkingIn

    /** The "Scan QR code" button. */
    val enrollVisible: Boolean get() = screen?.canEnroll ?: true

    /** The tone's name for the colour and icon (the view maps it to resources). */
    val tone: Tone get() = screen?.tone ?: Tone.ATTENTION
}

/** The state while a check-in runs. */
fun StatusUi.started(): StatusUi = copy(checkingIn = true, message = null)

/** The state after a check-in returned [result]; [screen] is the core's screen read after it. */
fun StatusUi.finished(result: CheckInResult, screen: StatusScreen): StatusUi =
    copy(screen = screen, checkingIn = false, message = checkInMessage(result))

/** The state after a check-in threw [e] ([screen]: re-read, if it could be). */
fun StatusUi.failed(e: ApiException, screen: StatusScreen?): StatusUi =
    copy(screen = screen ?: this.screen, checkingIn = false, message = checkInError(e).message)

/** One line on what the button press did. */
fun checkInMessage(result: CheckInResult): String {
    val verdict = result.result?.status ?: result.local.status
    val outcome = when (verdict) {
        Status.COMPLIANT -> "this phone is compliant"
        Status.WARNING -> "this phone is compliant, with a warning"
        Status.NONCOMPLIANT -> "some things need fixing"
    }
    return if (result.delivered) {
        "Check-in accepted by the server: $outcome."
    } else {
        "No connection: the check-in is saved and will be sent when the phone is online " +
            "(on this phone's own reading, $outcome)."
    }
}
