//! The status screen as the apps receive it: records over [`pramaan_core::agent::screen`],
//! which holds the rules and the texts (see its module doc). The pure [`status_screen`]
//! takes the [`AgentStatus`] record, so an app (and its JVM tests) can draw the screen for
//! a status built from recorded data; [`Agent::screen`] draws it for the agent's own.

use pramaan_core::agent::screen::{self, FailureText, Outcome, ScreenInput};
use pramaan_core::claims::Verdict;

use crate::{Agent, AgentStatus, ApiError, Rule, RuleFailure, Status};

/// The screen's colour, as a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Tone {
    /// Compliant.
    Good,
    /// A warning, not checked in yet, only queued (the server has not confirmed), or
    /// overdue.
    Attention,
    /// Not compliant.
    Bad,
    /// Revoked or not enrolled.
    Blocked,
}

impl From<screen::Tone> for Tone {
    fn from(t: screen::Tone) -> Self {
        match t {
            screen::Tone::Good => Tone::Good,
            screen::Tone::Attention => Tone::Attention,
            screen::Tone::Bad => Tone::Bad,
            screen::Tone::Blocked => Tone::Blocked,
        }
    }
}

/// One failed rule on the screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScreenItem {
    /// The rule.
    pub rule: Rule,
    /// What is wrong, in words ("Screen lock and device key: no screen lock is set").
    pub problem: String,
    /// What to do ("Set a screen lock (PIN, pattern or password) in the phone's settings.").
    pub action: String,
}

/// The status screen, in the officer's words.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StatusScreen {
    /// The colour.
    pub tone: Tone,
    /// "Compliant", "2 things to fix", "Revoked by department IT", "Not enrolled", ...
    pub title: String,
    /// One sentence in the officer's words.
    pub summary: String,
    /// One per failed rule: what is missing, what to do.
    pub items: Vec<ScreenItem>,
    /// "Last check-in 2 hours ago, accepted by the server" or "Never checked in".
    pub last_check_in: String,
    /// "3 check-ins waiting to be sent" when some are.
    pub queued: Option<String>,
    /// Revoked or not enrolled: "Ask IT for a new QR code and enroll this phone with it."
    pub next_step: Option<String>,
    /// Show the "Check in now" button.
    pub can_check_in: bool,
    /// Show "Scan QR code".
    pub can_enroll: bool,
}

impl From<screen::Screen> for StatusScreen {
    fn from(s: screen::Screen) -> Self {
        Self {
            tone: s.tone.into(),
            title: s.title,
            summary: s.summary,
            items: s
                .items
                .into_iter()
                .map(|i| ScreenItem {
                    rule: i.rule.into(),
                    problem: i.problem,
                    action: i.action,
                })
                .collect(),
            last_check_in: s.last_check_in,
            queued: s.queued,
            next_step: s.next_step,
            can_check_in: s.can_check_in,
            can_enroll: s.can_enroll,
        }
    }
}

fn verdict(s: Status) -> Verdict {
    match s {
        Status::Compliant => Verdict::Affirming,
        Status::Warning => Verdict::Warning,
        Status::Noncompliant => Verdict::Contraindicated,
    }
}

fn texts(f: &[RuleFailure]) -> Vec<FailureText> {
    f.iter()
        .map(|f| FailureText {
            rule: f.rule.into(),
            detail: f.detail.clone(),
            hint: f.hint.clone(),
        })
        .collect()
}

/// What the core's screen needs from the record.
pub(crate) fn screen_input(s: &AgentStatus) -> ScreenInput {
    ScreenInput {
        enrolled: s.enrolled,
        revoked: s.revoked.as_ref().map(|r| r.reason.clone()),
        server: s.last_result.as_ref().map(|r| Outcome {
            seq: r.seq,
            at: r.iat,
            verdict: verdict(r.status),
            failures: texts(&r.failures),
        }),
        local: s.last_local.as_ref().map(|l| Outcome {
            seq: l.seq,
            at: l.at,
            verdict: verdict(l.status),
            failures: texts(&l.failures),
        }),
        last_check_in_at: s.last_check_in_at,
        pending: s.pending,
        check_in_hours: s.check_in_hours,
    }
}

/// The status screen for `status` at `now` (Unix seconds). Pure: any record, also one
/// built by the app from recorded data, gives a screen; nothing is read or written.
#[uniffi::export]
pub fn status_screen(status: AgentStatus, now: u64) -> StatusScreen {
    screen::screen(&screen_input(&status), now).into()
}

#[uniffi::export]
impl Agent {
    /// The status screen for the agent's own status at `now` (Unix seconds).
    pub fn screen(&self, now: u64) -> Result<StatusScreen, ApiError> {
        Ok(status_screen(self.status()?, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{soft_agent, unenrolled_record};
    use crate::{LocalResult, RevocationInfo, ServerResult};

    const NOW: u64 = 1_795_000_000;

    /// An enrolled phone's record as the Kotlin tests build it: the server answered
    /// `status` with `failures` an hour ago.
    fn answered(status: Status, failures: Vec<RuleFailure>) -> AgentStatus {
        AgentStatus {
            enrolled: true,
            device_id: Some("00000000-0000-0000-0000-000000000001".into()),
            officer_id: Some("GAD-001".into()),
            department: Some("GAD".into()),
            server: Some("https://gad.example".into()),
            last_seq: 2,
            last_result: Some(ServerResult {
                seq: 2,
                status,
                failures: failures.clone(),
                log_index: 1,
                iat: NOW - 3600,
                reattest: false,
            }),
            last_local: Some(LocalResult {
                seq: 2,
                at: NOW - 3600,
                status,
                failures,
            }),
            word: "compliant".into(),
            last_check_in_at: Some(NOW - 3600),
            check_in_hours: 24,
            attestations_per_day: 96,
            ..unenrolled_record()
        }
    }

    #[test]
    fn a_record_built_by_the_app_draws_the_screen() {
        let s = status_screen(
            answered(
                Status::Warning,
                vec![RuleFailure {
                    rule: Rule::R5,
                    detail: "no screen lock is set".into(),
                    hint: "set a screen lock (PIN, pattern or password) in the phone's settings"
                        .into(),
                }],
            ),
            NOW,
        );
        assert_eq!(s.tone, Tone::Attention);
        assert_eq!(s.title, "Warning: screen lock and device key");
        assert_eq!(
            s.items,
            vec![ScreenItem {
                rule: Rule::R5,
                problem: "Screen lock and device key: no screen lock is set".into(),
                action: "Set a screen lock (PIN, pattern or password) in the phone's settings."
                    .into(),
            }]
        );
        assert_eq!(
            s.last_check_in,
            "Last check-in 1 hour ago, accepted by the server"
        );
        let s = status_screen(answered(Status::Compliant, vec![]), NOW);
        assert_eq!((s.tone, s.title.as_str()), (Tone::Good, "Compliant"));
        let s = status_screen(
            answered(
                Status::Noncompliant,
                vec![RuleFailure {
                    rule: Rule::R3,
                    detail: "no sanctioned messaging app is installed".into(),
                    hint: "install WhatsApp from the Play Store".into(),
                }],
            ),
            NOW,
        );
        assert_eq!((s.tone, s.title.as_str()), (Tone::Bad, "1 thing to fix"));
        assert_eq!(s.items[0].rule, Rule::R3);
        let mut revoked = answered(Status::Compliant, vec![]);
        revoked.revoked = Some(RevocationInfo {
            at: NOW,
            reason: Some("phone lost".into()),
        });
        let s = status_screen(revoked, NOW);
        assert_eq!(s.tone, Tone::Blocked);
        assert!(s.summary.contains("(phone lost)"), "{}", s.summary);
        assert_eq!((s.can_check_in, s.can_enroll), (false, true));
    }

    #[test]
    fn the_agent_draws_its_own_screen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = soft_agent(dir.path()).screen(NOW).expect("screen");
        assert_eq!(s, status_screen(unenrolled_record(), NOW));
        assert_eq!((s.tone, s.title.as_str()), (Tone::Blocked, "Not enrolled"));
    }
}
