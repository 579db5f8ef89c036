// What the officer reads when a call into the core fails: one sentence per ApiException
// kind (and per server refusal code worth telling apart), saying what happened and what to
// do, never the raw detail (that goes to the log, for IT).
//
// Plain Kotlin: no android.*, androidx.* or com.google.* import (compiled and tested on the
// JVM by tests/tests/android_logic.rs).
package gov.gujarat.pramaan.logic

import gov.gujarat.pramaan.ApiException

/** An error as the officer sees it: the sentence, and whether trying again can help. */
data class OfficerError(val message: String, val canRetry: Boolean)

/** The officer's words for `e`, raised while enrolling (scan, preview or enroll). */
fun enrollmentError(e: ApiException): OfficerError = when (e) {
    is ApiException.InvalidInput -> OfficerError(
        "This is not a Pramaan enrollment code. Scan the QR code department IT gave you.",
        canRetry = false,
    )
    is ApiException.AlreadyEnrolled -> OfficerError(
        "This phone is already enrolled. To enroll it again, ask department IT first.",
        canRetry = false,
    )
    is ApiException.Rejected -> rejected(e.code, e.status)
    else -> commonError(e)
}

/** The officer's words for `e`, raised by a check-in, a flush or reading the status. */
fun checkInError(e: ApiException): OfficerError = when (e) {
    is ApiException.InvalidInput -> OfficerError(
        "This phone's details could not be read. Try again; if it keeps failing, show IT this message.",
        canRetry = true,
    )
    is ApiException.AlreadyEnrolled -> OfficerError(
        "This phone is already enrolled.",
        canRetry = false,
    )
    is ApiException.Rejected -> rejected(e.code, e.status)
    else -> commonError(e)
}

private fun commonError(e: ApiException): OfficerError = when (e) {
    is ApiException.NotEnrolled -> OfficerError(
        "This phone is not enrolled. Ask department IT for a QR code and scan it.",
        canRetry = false,
    )
    is ApiException.Network -> OfficerError(
        "Could not reach the department's server. Check the internet connection and try again.",
        canRetry = true,
    )
    is ApiException.Revoked -> OfficerError(
        "Department IT revoked this phone" + reasonSuffix(e.reason) +
            " Ask department IT for a new QR code.",
        canRetry = false,
    )
    is ApiException.Platform -> OfficerError(
        "The phone's secure key storage did not answer. Restart the phone and try again; " +
            "if it keeps failing, show IT this message.",
        canRetry = true,
    )
    is ApiException.Storage -> OfficerError(
        "Pramaan could not save its data. Free some storage space and try again.",
        canRetry = true,
    )
    is ApiException.Internal -> OfficerError(
        "The server's answer could not be checked. Try again later; if it keeps failing, " +
            "show IT this message.",
        canRetry = true,
    )
    is ApiException.ServerKeyChanged -> OfficerError(
        "The Pramaan server's key changed and this phone did not check in during the " +
            "changeover: ask department IT for a new QR code and enroll again.",
        canRetry = false,
    )
    // Handled by the callers; kept so this `when` stays exhaustive without `else`.
    is ApiException.InvalidInput, is ApiException.AlreadyEnrolled, is ApiException.Rejected ->
        OfficerError("Something went wrong. Show IT this message.", canRetry = false)
}

/** A server refusal, by its machine-readable code (core/src/api.rs `RejectCode`). */
private fun rejected(code: String, status: UShort): OfficerError = when (code) {
    "token_expired" -> OfficerError(
        "This QR code has expired. Ask department IT for a new one.",
        canRetry = false,
    )
    "token_used" -> OfficerError(
        "This QR code has already been used. Ask department IT for a new one.",
        canRetry = false,
    )
    "token_cancelled" -> OfficerError(
        "Department IT cancelled this QR code. Ask them for a new one.",
        canRetry = false,
    )
    "unknown_token", "unauthorized" -> OfficerError(
        "The server does not know this QR code. Ask department IT for a new one.",
        canRetry = false,
    )
    "unknown_officer" -> OfficerError(
        "The server does not know the officer this QR code was made for. Ask department IT.",
        canRetry = false,
    )
    "device_limit" -> OfficerError(
        "You have enrolled as many phones as the department allows. Ask department IT to " +
            "remove an old one.",
        canRetry = false,
    )
    "rate_limited", "quota_exceeded" -> OfficerError(
        "The server is busy. Pramaan will try again later.",
        canRetry = true,
    )
    "protocol_outdated" -> OfficerError(
        "This version of Pramaan is too old for the server. Update Pramaan from the app " +
            "store, then check in again.",
        canRetry = false,
    )
    "revoked", "key_revoked" -> OfficerError(
        "Department IT revoked this phone. Ask department IT for a new QR code.",
        canRetry = false,
    )
    else -> OfficerError(
        "The server refused (${status.toInt()}). Show IT this message: $code.",
        canRetry = status.toInt() >= 500,
    )
}

private fun reasonSuffix(reason: String?): String {
    val r = reason?.let(::oneLine)?.takeIf { it.isNotEmpty() }
    return if (r == null) "." else ": $r."
}

/**
 * Server-sent text made safe for one line on screen: control and bidi-override characters
 * dropped, whitespace collapsed, at most [max] characters (the core sanitizes its own texts;
 * this covers what the app shows from an exception).
 */
fun oneLine(text: String, max: Int = 200): String {
    val cleaned = buildString {
        for (c in text) {
            when {
                c.isWhitespace() -> append(' ')
                Character.isISOControl(c) -> {}
                Character.getType(c) == Character.FORMAT.toInt() -> {}
                else -> append(c)
            }
        }
    }.replace(Regex(" +"), " ").trim()
    return if (cleaned.length <= max) cleaned else cleaned.take(max - 1).trimEnd() + "…"
}
