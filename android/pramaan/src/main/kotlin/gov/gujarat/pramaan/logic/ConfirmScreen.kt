// The confirmation screen's state: the officer confirms the email accounts on this phone
// (rule R1) and, for each department group, membership and the handle IT's roster knows
// (rule R4). Why the officer confirms them: since Android 8 an app sees only the accounts
// the user lets it see (AccountManager), and messaging apps expose neither their groups nor
// the officer's number to other apps. The screen classifies every address (official domain
// or not) before the check-in does, so the officer learns it from the screen, not from a
// failed check-in.
//
// Also the storage format of the answers (app-private preferences), read back for every
// check-in; anything unreadable is dropped, never trusted.
//
// Plain Kotlin: no android.*, androidx.* or com.google.* import.
package gov.gujarat.pramaan.logic

import gov.gujarat.pramaan.GroupRecord
import gov.gujarat.pramaan.GroupToConfirm
import gov.gujarat.pramaan.PolicySummary

/** Longest email address accepted (RFC 5321's path limit). */
const val MAX_EMAIL = 254

/** Longest handle accepted (phone numbers and user names are far shorter). */
const val MAX_HANDLE = 64

/** One email account the officer listed. */
data class EmailEntry(val address: String, val official: Boolean, val note: String)

/** One department group: is the officer a member, and with which handle. */
data class GroupEntry(
    val platform: String,
    val group: String,
    val name: String,
    val member: Boolean,
    val handle: String,
    val problem: String?,
)

/** The whole screen. [problem]: why the last added address was refused, if it was. */
data class ConfirmState(
    val domains: List<String>,
    val emails: List<EmailEntry>,
    val groups: List<GroupEntry>,
    val problem: String? = null,
) {
    /** Confirm is enabled when every group the officer joined has a valid handle. */
    val canConfirm: Boolean get() = groups.none { it.problem != null }

    /** The accounts on a domain that is not official: they will fail R1. */
    val privateEmails: List<String> get() = emails.filterNot { it.official }.map { it.address }

    /** The answers to store and report. */
    fun confirmed(): Confirmed = Confirmed(
        emails = emails.map { it.address },
        groups = groups.map {
            GroupRecord(
                platform = it.platform,
                group = it.group,
                member = it.member,
                handle = if (it.member) normalizeHandle(it.handle) else "",
            )
        },
    )
}

/**
 * The screen for [summary] (the enrolled policy), pre-filled with the accounts Android let
 * the app see ([accountsSeen]) and the officer's earlier answers ([saved]).
 */
fun confirmState(summary: PolicySummary, accountsSeen: List<String>, saved: Confirmed?): ConfirmState {
    val domains = summary.emailDomains.map { it.trim().lowercase() }.filter { it.isNotEmpty() }
    var state = ConfirmState(domains = domains, emails = emptyList(), groups = emptyList())
    for (address in (saved?.emails.orEmpty() + accountsSeen)) {
        state = addEmail(state, address).copy(problem = null)
    }
    val groups = summary.groups.map { g -> groupEntry(g, saved?.groups.orEmpty()) }
    return state.copy(groups = groups)
}

private fun groupEntry(g: GroupToConfirm, saved: List<GroupRecord>): GroupEntry {
    val before = saved.firstOrNull { it.platform == g.platform && it.group == g.group }
    val member = before?.member ?: false
    val handle = before?.handle.orEmpty()
    return GroupEntry(
        platform = g.platform,
        group = g.group,
        name = oneLine(g.name.ifBlank { g.group }, 80),
        member = member,
        handle = handle,
        problem = handleProblem(member, handle, g.platform),
    )
}

/** Adds [text] as an email address, or says in [ConfirmState.problem] why not. */
fun addEmail(state: ConfirmState, text: String): ConfirmState {
    val address = text.trim()
    val problem = emailProblem(address)
    if (problem != null) return state.copy(problem = problem)
    if (state.emails.any { it.address.equals(address, ignoreCase = true) }) {
        return state.copy(problem = null)
    }
    val official = isOfficial(address, state.domains)
    val note = if (official) {
        "Official email"
    } else {
        "Not an official address (${state.domains.joinToString(", ")}): remove this account from the phone"
    }
    return state.copy(emails = state.emails + EmailEntry(address, official, note), problem = null)
}

/** Removes [address] (the officer took the account off the phone). */
fun removeEmail(state: ConfirmState, address: String): ConfirmState =
    state.copy(emails = state.emails.filterNot { it.address == address }, problem = null)

/** Sets the membership and handle of group [index]; out-of-range indexes change nothing. */
fun setGroup(state: ConfirmState, index: Int, member: Boolean, handle: String): ConfirmState {
    if (index !in state.groups.indices) return state
    val old = state.groups[index]
    val entry = old.copy(
        member = member,
        handle = handle.take(MAX_HANDLE * 2),
        problem = handleProblem(member, handle, old.platform),
    )
    return state.copy(groups = state.groups.toMutableList().also { it[index] = entry })
}

/** Why [address] is not an email address, or null. */
fun emailProblem(address: String): String? {
    val at = address.lastIndexOf('@')
    return when {
        address.isEmpty() -> "Type an email address."
        address.length > MAX_EMAIL -> "That address is too long."
        address.any { it.isWhitespace() || Character.isISOControl(it) } ->
            "An email address has no spaces."
        at <= 0 || at == address.length - 1 -> "That is not an email address (name@domain)."
        '.' !in address.substring(at + 1) -> "That is not an email address (name@domain)."
        else -> null
    }
}

/** Whether [address]'s domain is one of [domains] or a subdomain of one (as rule R1 checks). */
fun isOfficial(address: String, domains: List<String>): Boolean {
    val domain = address.substringAfterLast('@', "").trim().lowercase()
    if (domain.isEmpty()) return false
    return domains.any { d ->
        val allowed = d.trim().lowercase()
        allowed.isNotEmpty() && (domain == allowed || domain.endsWith(".$allowed"))
    }
}

/** A handle as IT's roster writes it: phone numbers without spaces, dashes or brackets. */
fun normalizeHandle(handle: String): String {
    val h = handle.trim()
    val phoneLike = h.isNotEmpty() && h.all { it.isDigit() || it in " +-()." }
    return if (phoneLike) h.filter { it.isDigit() || it == '+' } else h
}

private fun handleProblem(member: Boolean, handle: String, platform: String): String? {
    if (!member) return null
    val h = normalizeHandle(handle)
    return when {
        h.isEmpty() -> "Give your number or user name in ${oneLine(platform, 40)}."
        h.length > MAX_HANDLE -> "That is too long for a number or user name."
        h.any { Character.isISOControl(it) || it == '\t' } -> "Remove the special characters."
        h.startsWith("+") && h.drop(1).any { !it.isDigit() } -> "A phone number has only digits after +."
        else -> null
    }
}

/** The answers as stored in app-private preferences: one tab-separated line per answer. */
fun encodeConfirmed(c: Confirmed): String = buildString {
    for (e in c.emails) {
        if (emailProblem(e) == null) append("email\t").append(e).append('\n')
    }
    for (g in c.groups) {
        val fields = listOf(g.platform, g.group, g.handle)
        if (fields.any { f -> f.any { it == '\t' || it == '\n' || it == '\r' } }) continue
        append("group\t").append(g.platform).append('\t').append(g.group).append('\t')
            .append(if (g.member) "1" else "0").append('\t').append(g.handle).append('\n')
    }
}

/** Reads [encodeConfirmed]'s text back; malformed lines are skipped. */
fun decodeConfirmed(text: String): Confirmed {
    val emails = mutableListOf<String>()
    val groups = mutableListOf<GroupRecord>()
    for (line in text.lineSequence()) {
        val f = line.split('\t')
        when {
            f.size == 2 && f[0] == "email" && emailProblem(f[1]) == null -> emails += f[1]
            f.size == 5 && f[0] == "group" && (f[3] == "0" || f[3] == "1") ->
                groups += GroupRecord(platform = f[1], group = f[2], member = f[3] == "1", handle = f[4])
        }
    }
    return Confirmed(emails, groups)
}
