//! The status screen of the phone apps, in the officer's words: is this phone compliant,
//! and if not, what is missing and what to do.
//!
//! Why in the core: the Android and iOS apps must say the same thing about the same
//! state, and the texts must be tested. The apps only lay out what [`screen`] returns
//! (tone, title, summary, one item per failed rule, last check-in, queue, next step,
//! which buttons to show); they decide nothing.
//!
//! The rules of the screen, in order:
//! 1. not enrolled: [`Tone::Blocked`], "Not enrolled", the officer is told to get a QR
//!    code from IT; no check-in button, the scan button;
//! 2. revoked: [`Tone::Blocked`], "Revoked by department IT", IT's reason in the summary,
//!    the same next step and buttons (enrolling again is the only way back);
//! 3. enrolled and never checked in: [`Tone::Attention`], "Not checked in yet";
//! 4. otherwise the server's last result when there is one (it also knows IT's rosters
//!    and the registry), else the device's own evaluation: compliant is [`Tone::Good`]
//!    ("Compliant"), warning is [`Tone::Attention`] ("Warning: ..."), noncompliant is
//!    [`Tone::Bad`] ("2 things to fix"), one item per failed rule with its hint. A
//!    compliant result the server has not received yet (only queued) is
//!    [`Tone::Attention`], and so is a compliant one older than the policy's
//!    `check_in_hours` (department IT sees the phone as not checked in).
//!
//! Every text that came from elsewhere (failure details and hints from the server, IT's
//! revocation reason) is made one safe line of bounded length by [`safe_line`]: no
//! control, escape or direction character reaches the screen, and a 10 KB detail does
//! not push the buttons off it.

use crate::claims::Verdict;
use crate::model::Rule;
use crate::policy::remedy::NEW_QR_CODE;
use crate::times;

/// Most characters of one text taken from outside (a detail, a hint, IT's reason).
pub const MAX_TEXT_CHARS: usize = 300;

/// The screen's colour, as a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Compliant.
    Good,
    /// A warning, not checked in yet, only queued, or overdue.
    Attention,
    /// Not compliant.
    Bad,
    /// Revoked or not enrolled: nothing works until the phone is enrolled (again).
    Blocked,
}

/// One failed rule of a result: its rule, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureText {
    /// The rule that failed.
    pub rule: Rule,
    /// What is wrong (the failure's detail).
    pub detail: String,
    /// What to do (the failure's remedy hint).
    pub hint: String,
}

/// One result the screen is drawn from: the server's answer or the device's own view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The attestation's sequence number.
    pub seq: u64,
    /// When: the server's `iat`, or the local evaluation's time (seconds since the epoch).
    pub at: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// The failed rules.
    pub failures: Vec<FailureText>,
}

/// What the screen needs to know (from [`super::AgentStatus`] or the phone library's
/// status record).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScreenInput {
    /// Whether the phone is enrolled.
    pub enrolled: bool,
    /// Department IT revoked the phone: `Some(reason)` (the reason may be absent).
    pub revoked: Option<Option<String>>,
    /// The server's answer to the last delivered attestation.
    pub server: Option<Outcome>,
    /// The device's own evaluation at the last check-in.
    pub local: Option<Outcome>,
    /// When the last check-in was made (delivered or queued).
    pub last_check_in_at: Option<u64>,
    /// Check-ins waiting in the outbox.
    pub pending: u64,
    /// The policy's `check_in_hours`; 0 when unknown (no overdue statement then).
    pub check_in_hours: u32,
}

/// One line of the screen's list: a failed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The rule.
    pub rule: Rule,
    /// What is wrong, in words ("Screen lock: no screen lock is set").
    pub problem: String,
    /// What to do ("Set a screen lock (PIN, pattern or password) in the phone's settings.").
    pub action: String,
}

/// The status screen (see the module doc for its rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// The colour.
    pub tone: Tone,
    /// "Compliant", "2 things to fix", "Revoked by department IT", ...
    pub title: String,
    /// One sentence saying what the title means for the officer.
    pub summary: String,
    /// One per failed rule.
    pub items: Vec<Item>,
    /// "Last check-in 2 hours ago, accepted by the server" or "Never checked in".
    pub last_check_in: String,
    /// "3 check-ins waiting to be sent" when some are.
    pub queued: Option<String>,
    /// Revoked or not enrolled: how to enroll (again).
    pub next_step: Option<String>,
    /// Show the "Check in now" button.
    pub can_check_in: bool,
    /// Show "Scan QR code".
    pub can_enroll: bool,
}

/// A rule in the officer's words.
pub fn rule_words(rule: Rule) -> &'static str {
    match rule {
        Rule::R1 => "Official email",
        Rule::R2 => "Official phone",
        Rule::R3 => "Messaging app",
        Rule::R4 => "Department group",
        Rule::R5 => "Screen lock and device key",
    }
}

/// `s` as one safe line: unsafe characters escaped (`crate::text::for_terminal`),
/// surrounding space trimmed, at most [`MAX_TEXT_CHARS`] characters (then `…`).
pub fn safe_line(s: &str) -> String {
    let escaped = crate::text::for_terminal(s.trim());
    let mut chars = escaped.chars();
    let mut out: String = chars.by_ref().take(MAX_TEXT_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// `s` as a sentence: first letter upper case (ASCII only: names and handles are left
/// alone), ending with a full stop unless it has its own punctuation.
fn sentence(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    let mut chars = s.chars();
    if let Some(c) = chars.next() {
        out.push(c.to_ascii_uppercase());
        out.extend(chars);
    }
    if !out.is_empty() && !out.ends_with(['.', '!', '?', '…']) {
        out.push('.');
    }
    out
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn items(failures: &[FailureText]) -> Vec<Item> {
    failures
        .iter()
        .map(|f| Item {
            rule: f.rule,
            problem: format!("{}: {}", rule_words(f.rule), safe_line(&f.detail)),
            action: sentence(&safe_line(&f.hint)),
        })
        .collect()
}

fn queued(pending: u64) -> Option<String> {
    (pending > 0).then(|| {
        let n = usize::try_from(pending).unwrap_or(usize::MAX);
        format!("{} waiting to be sent", count(n, "check-in", "check-ins"))
    })
}

fn last_check_in(input: &ScreenInput, now: u64) -> String {
    let at = input
        .last_check_in_at
        .or(input.server.as_ref().map(|s| s.at));
    let Some(at) = at else {
        return "Never checked in".to_string();
    };
    let local_seq = input.local.as_ref().map_or(0, |l| l.seq);
    let fate = match &input.server {
        Some(s) if s.seq >= local_seq => "accepted by the server",
        _ if input.pending > 0 => "waiting to be sent",
        _ => "not confirmed by the server",
    };
    let mut line = format!("Last check-in {}, {fate}", times::ago(at, now));
    if overdue(input, now) {
        line.push_str(". IT will see this phone as not checked in: check in now");
    }
    line
}

/// Whether department IT sees the phone as not checked in: the last check-in the server
/// accepted (else the last one made) is older than the policy's `check_in_hours`.
fn overdue(input: &ScreenInput, now: u64) -> bool {
    if input.check_in_hours == 0 {
        return false;
    }
    let window = u64::from(input.check_in_hours).saturating_mul(3600);
    input
        .server
        .as_ref()
        .map(|s| s.at)
        .or(input.last_check_in_at)
        .is_some_and(|at| now.saturating_sub(at) > window)
}

/// The status screen for `input` at `now` (seconds since the epoch).
pub fn screen(input: &ScreenInput, now: u64) -> Screen {
    let blocked = |title: &str, summary: String| Screen {
        tone: Tone::Blocked,
        title: title.to_string(),
        summary,
        items: Vec::new(),
        last_check_in: last_check_in(input, now),
        queued: queued(input.pending),
        next_step: Some(sentence(NEW_QR_CODE)),
        can_check_in: false,
        can_enroll: true,
    };
    if !input.enrolled {
        return Screen {
            last_check_in: "Never checked in".to_string(),
            ..blocked(
                "Not enrolled",
                "This phone is not enrolled with department IT, so it cannot check in.".to_string(),
            )
        };
    }
    if let Some(reason) = &input.revoked {
        let summary = match reason.as_deref().map(safe_line).filter(|r| !r.is_empty()) {
            Some(r) => format!(
                "Department IT revoked this phone ({r}); it no longer counts as your official phone."
            ),
            None => "Department IT revoked this phone; it no longer counts as your official phone."
                .to_string(),
        };
        return blocked("Revoked by department IT", summary);
    }
    let mut s = Screen {
        tone: Tone::Attention,
        title: "Not checked in yet".to_string(),
        summary: "This phone is enrolled but has not checked in yet: check in now so department IT sees it."
            .to_string(),
        items: Vec::new(),
        last_check_in: last_check_in(input, now),
        queued: queued(input.pending),
        next_step: None,
        can_check_in: true,
        can_enroll: false,
    };
    let from_server = input.server.is_some();
    let Some(outcome) = input.server.as_ref().or(input.local.as_ref()) else {
        return s;
    };
    s.items = items(&outcome.failures);
    let n = s.items.len();
    match outcome.verdict {
        Verdict::Affirming if overdue(input, now) => {
            s.tone = Tone::Attention;
            s.title = "Check-in overdue".to_string();
            s.summary = "This phone met every rule at its last check-in, but department IT has not heard from it for too long: check in now.".to_string();
        }
        Verdict::Affirming if from_server => {
            s.tone = Tone::Good;
            s.title = "Compliant".to_string();
            s.summary = "This phone meets every rule of your department.".to_string();
        }
        Verdict::Affirming => {
            s.tone = Tone::Attention;
            s.title = "Compliant on this phone".to_string();
            s.summary = "This phone meets every rule, but the server has not received its check-in yet: it is sent when the phone is online.".to_string();
        }
        Verdict::Warning => {
            s.tone = Tone::Attention;
            s.title = match s.items.as_slice() {
                [] => "Warning: checked in offline".to_string(),
                [one] => format!("Warning: {}", rule_words(one.rule).to_lowercase()),
                _ => format!("Warning: {}", count(n, "thing to check", "things to check")),
            };
            s.summary = if n == 0 {
                "The last check-in reached the server late, from the offline queue: check in while online.".to_string()
            } else {
                "This phone still counts as compliant, but department IT sees this: fix it when you can.".to_string()
            };
        }
        Verdict::Contraindicated => {
            s.tone = Tone::Bad;
            s.title = if n == 0 {
                "Not compliant".to_string()
            } else {
                format!("{} to fix", count(n, "thing", "things"))
            };
            s.summary = if from_server {
                "Department IT counts this phone as not compliant until this is fixed."
            } else {
                "This phone does not meet your department's rules yet: fix this, then check in."
            }
            .to_string();
        }
    }
    s
}

impl super::AgentStatus {
    /// What the status screen needs from this status (hints under the enrolled policy).
    pub fn screen_input(&self) -> ScreenInput {
        let failures = |f: &[crate::claims::Failure]| {
            f.iter()
                .map(|f| FailureText {
                    rule: f.rule,
                    detail: f.detail.clone(),
                    hint: self.remedy(f),
                })
                .collect()
        };
        ScreenInput {
            enrolled: self.enrolled,
            revoked: self.revoked.as_ref().map(|r| r.reason.clone()),
            server: self.last_result.as_ref().map(|r| Outcome {
                seq: r.seq,
                at: r.iat,
                verdict: r.status,
                failures: failures(&r.failures),
            }),
            local: self.last_local.as_ref().map(|l| Outcome {
                seq: l.seq,
                at: l.at,
                verdict: l.verdict,
                failures: failures(&l.failures),
            }),
            last_check_in_at: self.last_check_in_at,
            pending: u64::try_from(self.pending).unwrap_or(u64::MAX),
            check_in_hours: self.check_in_hours,
        }
    }
}
