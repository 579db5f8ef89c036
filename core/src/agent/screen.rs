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
            let (it, is) = if n > 1 {
                ("these", "are")
            } else {
                ("this", "is")
            };
            s.summary = if from_server {
                format!("Department IT counts this phone as not compliant until {it} {is} fixed.")
            } else {
                format!(
                    "This phone does not meet your department's rules yet: fix {it}, then check in."
                )
            };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentStatus, LocalEvaluation, Revocation};
    use crate::claims::{AttestResult, Failure, Platform};
    use crate::policy::Policy;

    const NOW: u64 = 1_795_000_000;
    const HOUR: u64 = 3600;

    fn policy() -> Policy {
        Policy::from_toml(
            "department = \"GAD\"\nemail_domains = [\"gujarat.gov.in\"]\n[[platforms]]\nname = \"WhatsApp\"\nandroid_package = \"com.whatsapp\"\n[[groups]]\nplatform = \"WhatsApp\"\nid = \"gad-officers\"\n",
        )
        .expect("policy")
    }

    fn enrolled() -> AgentStatus {
        AgentStatus {
            enrolled: true,
            platform: Some(Platform::Android),
            check_in_hours: 24,
            attestations_per_day: 96,
            policy: Some(policy()),
            ..AgentStatus::default()
        }
    }

    fn failure(rule: Rule, detail: &str) -> Failure {
        Failure {
            rule,
            detail: detail.into(),
        }
    }

    /// Enrolled, checked in `ago` seconds before `NOW`, the server answered `verdict`
    /// with `failures` (the device's own view agreeing).
    fn answered(verdict: Verdict, failures: Vec<Failure>, ago: u64) -> AgentStatus {
        let at = NOW - ago;
        AgentStatus {
            last_seq: 4,
            last_result: Some(AttestResult {
                answer_keys: Vec::new(),
                device_id: uuid::Uuid::from_u128(1),
                seq: 4,
                status: verdict,
                failures: failures.clone(),
                log_index: 9,
                next_nonce: vec![0; 16],
                iat: at,
                reattest: false,
                next_pin: None,
            }),
            last_local: Some(LocalEvaluation {
                seq: 4,
                at,
                verdict,
                failures,
            }),
            last_check_in_at: Some(at),
            ..enrolled()
        }
    }

    fn draw(s: &AgentStatus) -> Screen {
        screen(&s.screen_input(), NOW)
    }

    fn one_item(s: &Screen) -> (&str, &str) {
        assert_eq!(s.items.len(), 1, "{s:#?}");
        (s.items[0].problem.as_str(), s.items[0].action.as_str())
    }

    #[test]
    fn compliant_and_accepted() {
        let s = draw(&answered(Verdict::Affirming, vec![], 2 * HOUR));
        assert_eq!(s.tone, Tone::Good);
        assert_eq!(s.title, "Compliant");
        assert_eq!(s.summary, "This phone meets every rule of your department.");
        assert!(s.items.is_empty());
        assert_eq!(
            s.last_check_in,
            "Last check-in 2 hours ago, accepted by the server"
        );
        assert_eq!(s.queued, None);
        assert_eq!(s.next_step, None);
        assert!(s.can_check_in);
        assert!(!s.can_enroll);
    }

    #[test]
    fn r1_private_email() {
        let s = draw(&answered(
            Verdict::Contraindicated,
            vec![failure(
                Rule::R1,
                "email asha@gmail.com is not on a government domain (gujarat.gov.in)",
            )],
            60,
        ));
        assert_eq!(s.tone, Tone::Bad);
        assert_eq!(s.title, "1 thing to fix");
        assert_eq!(
            s.summary,
            "Department IT counts this phone as not compliant until this is fixed."
        );
        assert_eq!(
            one_item(&s),
            (
                "Official email: email asha@gmail.com is not on a government domain (gujarat.gov.in)",
                "Remove the account asha@gmail.com from this phone; only official email (gujarat.gov.in) may be on it."
            )
        );
        assert_eq!(s.items[0].rule, Rule::R1);
        assert_eq!(
            s.last_check_in,
            "Last check-in 1 minute ago, accepted by the server"
        );
        assert!(s.can_check_in);
    }

    #[test]
    fn r2_another_phone() {
        let s = draw(&answered(
            Verdict::Warning,
            vec![failure(
                Rule::R2,
                "the registry records the government-funded phone as \"Pixel 8\", but this device is \"Pixel 6\" (reported)",
            )],
            5 * 60,
        ));
        assert_eq!(s.tone, Tone::Attention);
        assert_eq!(s.title, "Warning: official phone");
        assert_eq!(
            s.summary,
            "This phone still counts as compliant, but department IT sees this: fix it when you can."
        );
        assert_eq!(
            one_item(&s),
            (
                "Official phone: the registry records the government-funded phone as \"Pixel 8\", but this device is \"Pixel 6\" (reported)",
                "Use the government-funded phone the registry records, or ask IT to correct the registry."
            )
        );
        assert_eq!(
            s.last_check_in,
            "Last check-in 5 minutes ago, accepted by the server"
        );
    }

    #[test]
    fn r3_no_sanctioned_app() {
        let s = draw(&answered(
            Verdict::Contraindicated,
            vec![failure(
                Rule::R3,
                "no sanctioned messaging app is installed; the department uses WhatsApp (com.whatsapp)",
            )],
            0,
        ));
        assert_eq!((s.tone, s.title.as_str()), (Tone::Bad, "1 thing to fix"));
        assert_eq!(
            one_item(&s),
            (
                "Messaging app: no sanctioned messaging app is installed; the department uses WhatsApp (com.whatsapp)",
                "Install WhatsApp from the Play Store."
            )
        );
        assert_eq!(
            s.last_check_in,
            "Last check-in just now, accepted by the server"
        );
    }

    #[test]
    fn r4_group_and_two_things_to_fix() {
        let s = draw(&answered(
            Verdict::Contraindicated,
            vec![
                failure(Rule::R4, "not a member of the WhatsApp group gad-officers"),
                failure(
                    Rule::R4,
                    "handle +919800000101 is not on IT's roster of the WhatsApp group gad-officers",
                ),
            ],
            3 * 86_400 - 1,
        ));
        assert_eq!(s.tone, Tone::Bad);
        assert_eq!(s.title, "2 things to fix");
        assert_eq!(
            s.summary,
            "Department IT counts this phone as not compliant until these are fixed."
        );
        assert_eq!(s.items.len(), 2);
        assert_eq!(
            s.items[0].problem,
            "Department group: not a member of the WhatsApp group gad-officers"
        );
        assert_eq!(
            s.items[0].action,
            "Join group gad-officers on WhatsApp; if you cannot, ask IT to add you."
        );
        assert_eq!(
            s.items[1].action,
            "Ask IT to add +919800000101 to the roster of group gad-officers on WhatsApp."
        );
        assert!(s.items.iter().all(|i| i.rule == Rule::R4));
        // Two days old, older than the policy's 24 hours: IT sees it as not checked in.
        assert_eq!(
            s.last_check_in,
            "Last check-in 2 days ago, accepted by the server. IT will see this phone as not checked in: check in now"
        );
    }

    #[test]
    fn r5_screen_lock() {
        let s = draw(&answered(
            Verdict::Warning,
            vec![failure(Rule::R5, "no screen lock is set")],
            HOUR,
        ));
        assert_eq!(s.tone, Tone::Attention);
        assert_eq!(s.title, "Warning: screen lock and device key");
        assert_eq!(
            one_item(&s),
            (
                "Screen lock and device key: no screen lock is set",
                "Set a screen lock (PIN, pattern or password) in the phone's settings."
            )
        );
        assert_eq!(
            s.last_check_in,
            "Last check-in 1 hour ago, accepted by the server"
        );
    }

    #[test]
    fn warnings_without_failures_and_several_warnings() {
        let late = draw(&answered(Verdict::Warning, vec![], HOUR));
        assert_eq!(late.title, "Warning: checked in offline");
        assert!(late.summary.contains("late"), "{}", late.summary);
        let two = draw(&answered(
            Verdict::Warning,
            vec![
                failure(Rule::R5, "no screen lock is set"),
                failure(
                    Rule::R5,
                    "the device key is not shown to be hardware-backed: software key",
                ),
            ],
            HOUR,
        ));
        assert_eq!(two.title, "Warning: 2 things to check");
        assert_eq!(two.tone, Tone::Attention);
    }

    #[test]
    fn the_server_s_answer_wins_over_the_device_s_own() {
        // The device cannot see IT's rosters: it found nothing wrong, the server did.
        let mut st = answered(
            Verdict::Contraindicated,
            vec![failure(
                Rule::R4,
                "handle +919800000101 is not on IT's roster of the WhatsApp group gad-officers",
            )],
            HOUR,
        );
        if let Some(l) = st.last_local.as_mut() {
            l.verdict = Verdict::Affirming;
            l.failures.clear();
        }
        let s = draw(&st);
        assert_eq!((s.tone, s.title.as_str()), (Tone::Bad, "1 thing to fix"));
        assert_eq!(s.items[0].rule, Rule::R4);
    }

    #[test]
    fn revoked_with_and_without_a_reason() {
        let mut st = answered(Verdict::Affirming, vec![], HOUR);
        st.revoked = Some(Revocation {
            at: NOW,
            reason: Some("phone reported lost".into()),
        });
        let s = draw(&st);
        assert_eq!(s.tone, Tone::Blocked);
        assert_eq!(s.title, "Revoked by department IT");
        assert_eq!(
            s.summary,
            "Department IT revoked this phone (phone reported lost); it no longer counts as your official phone."
        );
        assert_eq!(
            s.next_step.as_deref(),
            Some("Ask IT for a new QR code and enroll this phone with it.")
        );
        assert!(s.items.is_empty());
        assert!(!s.can_check_in);
        assert!(s.can_enroll);
        assert_eq!(
            s.last_check_in,
            "Last check-in 1 hour ago, accepted by the server"
        );
        for reason in [None, Some("   ".to_string())] {
            st.revoked = Some(Revocation { at: NOW, reason });
            let s = draw(&st);
            assert_eq!(
                s.summary,
                "Department IT revoked this phone; it no longer counts as your official phone."
            );
            assert_eq!((s.can_check_in, s.can_enroll), (false, true));
        }
    }

    #[test]
    fn not_enrolled() {
        let s = draw(&AgentStatus::default());
        assert_eq!(s.tone, Tone::Blocked);
        assert_eq!(s.title, "Not enrolled");
        assert_eq!(
            s.summary,
            "This phone is not enrolled with department IT, so it cannot check in."
        );
        assert_eq!(s.last_check_in, "Never checked in");
        assert_eq!(
            s.next_step.as_deref(),
            Some("Ask IT for a new QR code and enroll this phone with it.")
        );
        assert_eq!(s.queued, None);
        assert_eq!((s.can_check_in, s.can_enroll), (false, true));
    }

    #[test]
    fn enrolled_and_never_checked_in() {
        let s = draw(&enrolled());
        assert_eq!(s.tone, Tone::Attention);
        assert_eq!(s.title, "Not checked in yet");
        assert_eq!(s.last_check_in, "Never checked in");
        assert!(s.items.is_empty());
        assert_eq!(s.next_step, None);
        assert_eq!((s.can_check_in, s.can_enroll), (true, false));
    }

    #[test]
    fn queued_check_ins_the_server_has_not_seen() {
        let st = AgentStatus {
            last_seq: 3,
            last_local: Some(LocalEvaluation {
                seq: 3,
                at: NOW - 5 * 60,
                verdict: Verdict::Affirming,
                failures: vec![],
            }),
            last_check_in_at: Some(NOW - 5 * 60),
            pending: 3,
            ..enrolled()
        };
        let s = draw(&st);
        assert_eq!(s.tone, Tone::Attention);
        assert_eq!(s.title, "Compliant on this phone");
        assert_eq!(s.queued.as_deref(), Some("3 check-ins waiting to be sent"));
        assert_eq!(
            s.last_check_in,
            "Last check-in 5 minutes ago, waiting to be sent"
        );
        // One queued after an accepted one: the server's answer still speaks, the newer
        // check-in is waiting.
        let mut st = answered(Verdict::Affirming, vec![], 3 * HOUR);
        st.last_local = Some(LocalEvaluation {
            seq: 5,
            at: NOW - 60,
            verdict: Verdict::Affirming,
            failures: vec![],
        });
        st.last_check_in_at = Some(NOW - 60);
        st.pending = 1;
        let s = draw(&st);
        assert_eq!((s.tone, s.title.as_str()), (Tone::Good, "Compliant"));
        assert_eq!(s.queued.as_deref(), Some("1 check-in waiting to be sent"));
        assert_eq!(
            s.last_check_in,
            "Last check-in 1 minute ago, waiting to be sent"
        );
        // Queued, then dropped by the server: not confirmed.
        st.pending = 0;
        assert_eq!(
            draw(&st).last_check_in,
            "Last check-in 1 minute ago, not confirmed by the server"
        );
        // Noncompliant on the device alone.
        let st = AgentStatus {
            last_local: Some(LocalEvaluation {
                seq: 1,
                at: NOW,
                verdict: Verdict::Contraindicated,
                failures: vec![failure(Rule::R5, "no screen lock is set")],
            }),
            last_check_in_at: Some(NOW),
            pending: 1,
            ..enrolled()
        };
        let s = draw(&st);
        assert_eq!((s.tone, s.title.as_str()), (Tone::Bad, "1 thing to fix"));
        assert_eq!(
            s.summary,
            "This phone does not meet your department's rules yet: fix this, then check in."
        );
    }

    #[test]
    fn stale_check_in_is_overdue() {
        let s = draw(&answered(Verdict::Affirming, vec![], 30 * HOUR));
        assert_eq!(s.tone, Tone::Attention);
        assert_eq!(s.title, "Check-in overdue");
        assert_eq!(
            s.last_check_in,
            "Last check-in 1 day ago, accepted by the server. IT will see this phone as not checked in: check in now"
        );
        // Exactly at the window: not yet.
        let s = draw(&answered(Verdict::Affirming, vec![], 24 * HOUR));
        assert_eq!(s.title, "Compliant");
        assert!(!s.last_check_in.contains("IT will see"));
        // Unknown window (0): never claims it.
        let mut st = answered(Verdict::Affirming, vec![], 300 * HOUR);
        st.check_in_hours = 0;
        assert_eq!(draw(&st).title, "Compliant");
        // A last check-in ahead of the clock is "just now", not a panic or overflow.
        let mut st = answered(Verdict::Affirming, vec![], 0);
        st.last_check_in_at = Some(u64::MAX);
        if let Some(r) = st.last_result.as_mut() {
            r.iat = u64::MAX;
        }
        let s = draw(&st);
        assert_eq!(s.title, "Compliant");
        assert_eq!(
            s.last_check_in,
            "Last check-in just now, accepted by the server"
        );
    }

    #[test]
    fn hostile_text_stays_one_safe_bounded_line() {
        let evil = format!(
            "\u{1b}[2J\u{1b}]0;owned\u{7}fake\nline\r\u{202E}moc.elgoog\u{2066}\u{2028}{}",
            "x".repeat(10 * 1024)
        );
        let mut st = answered(
            Verdict::Contraindicated,
            vec![failure(Rule::R3, &evil)],
            HOUR,
        );
        st.revoked = None;
        let s = draw(&st);
        let (problem, action) = one_item(&s);
        for text in [problem, action] {
            assert!(
                text.chars().all(|c| !crate::text::is_unsafe_char(c)),
                "{text:?}"
            );
            assert!(
                text.chars().count() <= MAX_TEXT_CHARS + 40,
                "{}",
                text.len()
            );
        }
        assert!(
            problem.starts_with("Messaging app: \\u{001B}[2J"),
            "{problem}"
        );
        assert!(problem.ends_with('…'));
        // IT's reason, from the server, likewise.
        st.revoked = Some(Revocation {
            at: NOW,
            reason: Some(evil.clone()),
        });
        let s = draw(&st);
        assert!(s.summary.chars().all(|c| !crate::text::is_unsafe_char(c)));
        assert!(s.summary.chars().count() < MAX_TEXT_CHARS + 120);
        // A hint from the server (through the phone library's record) too.
        let input = ScreenInput {
            enrolled: true,
            server: Some(Outcome {
                seq: 1,
                at: NOW,
                verdict: Verdict::Contraindicated,
                failures: vec![FailureText {
                    rule: Rule::R1,
                    detail: "ok".into(),
                    hint: evil,
                }],
            }),
            ..ScreenInput::default()
        };
        let s = screen(&input, NOW);
        assert!(
            s.items[0]
                .action
                .chars()
                .all(|c| !crate::text::is_unsafe_char(c))
        );
        assert!(s.items[0].action.chars().count() <= MAX_TEXT_CHARS + 2);
    }

    #[test]
    fn every_rule_has_words_without_jargon() {
        for rule in [Rule::R1, Rule::R2, Rule::R3, Rule::R4, Rule::R5] {
            let w = rule_words(rule);
            assert!(!w.contains(rule.as_str()), "{w}");
        }
        let all = [
            draw(&AgentStatus::default()),
            draw(&enrolled()),
            draw(&answered(Verdict::Affirming, vec![], 0)),
            draw(&answered(Verdict::Warning, vec![], 0)),
            draw(&answered(Verdict::Contraindicated, vec![], 0)),
        ];
        for s in all {
            for text in [&s.title, &s.summary, &s.last_check_in] {
                for jargon in ["affirming", "contraindicated", "attestation", "R1", "R5"] {
                    assert!(!text.contains(jargon), "{jargon} in {text:?}");
                }
            }
        }
    }
}
