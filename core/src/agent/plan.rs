//! When the phone checks in: the plan the apps' background work (Android WorkManager,
//! iOS BGTaskScheduler) follows each time it wakes.
//!
//! Why in the core: both apps must keep the officer fresh without drawing the server's
//! refusals, and the decision is arithmetic on the agent's state that deserves tests; the
//! platform code only schedules what [`plan`] says. The rules, first match wins:
//! 1. not enrolled, or revoked by department IT: [`PlanAction::Stop`] (`at` 0): no
//!    check-in can succeed; the app cancels its periodic work until the officer enrolls;
//! 2. `now < retry_at`: [`PlanAction::Wait`] until then: the server said when to come
//!    back (429 with `Retry-After`), and asking before only draws another refusal. The
//!    wait is capped at one day, as the agent caps `retry_at`, so a garbage deadline
//!    cannot silence the phone for good;
//! 3. the server asked for fresh platform evidence: [`PlanAction::CheckInNow`];
//! 4. never checked in: [`PlanAction::CheckInNow`];
//! 5. due (last check-in + `period_secs` has passed): [`PlanAction::CheckInNow`]; a
//!    last check-in ahead of the clock (the clock moved back, or a garbage value) counts
//!    as made now, so the phone waits one period rather than until that future time;
//! 6. check-ins queued in the outbox: [`PlanAction::FlushOutbox`] (sending them costs
//!    no new attestation);
//! 7. else [`PlanAction::Wait`] until due.
//!
//! The period ([`period_secs`]) is a third of the policy's `check_in_hours` (three chances
//! before IT sees the phone as stale), at least 15 minutes (WorkManager's floor for
//! periodic work, and a sensible one for a battery), at most 12 hours; and in any case at
//! least `2 * 86400 / attestations_per_day`, so the schedule uses at most half of the
//! device's daily allowance and leaves the rest to the officer's "Check in now". The
//! allowance wins over the 12-hour cap: exceeding it only draws refusals.
//!
//! Every value may be garbage (the apps can build the status record themselves):
//! arithmetic saturates and a zero `check_in_hours` or `attestations_per_day` falls back
//! to the floor.

use crate::times;

/// The shortest period: WorkManager's minimum interval for periodic work.
pub const MIN_PERIOD_SECS: u64 = 15 * 60;
/// The longest period when the allowance does not ask for more.
pub const MAX_PERIOD_SECS: u64 = 12 * 3600;
/// The longest wait a server's `Retry-After` is followed for (the agent keeps no longer).
pub const MAX_RETRY_WAIT_SECS: u64 = 86_400;

/// What the background work does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanAction {
    /// Check in (sign the current facts and send them, or queue them offline).
    CheckInNow,
    /// Send the queued check-ins.
    FlushOutbox,
    /// Nothing until `at`.
    Wait,
    /// Nothing at all: not enrolled or revoked; cancel the periodic work.
    Stop,
}

/// The plan (see the module doc for its rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// What to do.
    pub action: PlanAction,
    /// When: `now` for [`PlanAction::CheckInNow`] and [`PlanAction::FlushOutbox`], the
    /// due time for [`PlanAction::Wait`], 0 for [`PlanAction::Stop`].
    pub at: u64,
    /// The periodic work's interval, seconds (at least [`MIN_PERIOD_SECS`]).
    pub period_secs: u64,
    /// Whether the work should wait for a network connection.
    pub needs_network: bool,
    /// Why, for logs and the screen.
    pub reason: String,
}

/// What the plan needs to know (from [`super::AgentStatus`] or the phone library's
/// status record).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanInput {
    /// Whether the phone is enrolled.
    pub enrolled: bool,
    /// Whether department IT revoked it.
    pub revoked: bool,
    /// The server's `Retry-After` deadline; 0 when none.
    pub retry_at: u64,
    /// The server asked for fresh platform evidence.
    pub reattest_requested: bool,
    /// When the last check-in was made.
    pub last_check_in_at: Option<u64>,
    /// Check-ins waiting in the outbox.
    pub pending: u64,
    /// The policy's `check_in_hours` (0: unknown).
    pub check_in_hours: u32,
    /// The policy's `limits.attestations_per_day` (0: unknown).
    pub attestations_per_day: u32,
}

/// The periodic work's interval for a policy (see the module doc).
pub fn period_secs(check_in_hours: u32, attestations_per_day: u32) -> u64 {
    let third = u64::from(check_in_hours).saturating_mul(3600) / 3;
    let fresh = third.clamp(MIN_PERIOD_SECS, MAX_PERIOD_SECS);
    let allowance = match attestations_per_day {
        0 => 0,
        n => 2 * 86_400 / u64::from(n),
    };
    fresh.max(allowance)
}

/// The plan for `input` at `now` (seconds since the epoch).
pub fn plan(input: &PlanInput, now: u64) -> Plan {
    let period = period_secs(input.check_in_hours, input.attestations_per_day);
    let make = |action, at, reason: String| Plan {
        action,
        at,
        period_secs: period,
        needs_network: action != PlanAction::Stop,
        reason,
    };
    if !input.enrolled {
        return make(
            PlanAction::Stop,
            0,
            "not enrolled: no check-ins until this phone is enrolled with IT's QR code".into(),
        );
    }
    if input.revoked {
        return make(
            PlanAction::Stop,
            0,
            "revoked by department IT: no check-ins until this phone is enrolled again".into(),
        );
    }
    if now < input.retry_at {
        let until = input.retry_at.min(now.saturating_add(MAX_RETRY_WAIT_SECS));
        return make(
            PlanAction::Wait,
            until,
            format!(
                "the server asked to wait until {}",
                times::clock_utc(until, now)
            ),
        );
    }
    if input.reattest_requested {
        return make(
            PlanAction::CheckInNow,
            now,
            "the server asked for fresh proof of this phone's hardware key".into(),
        );
    }
    let Some(last) = input.last_check_in_at else {
        return make(PlanAction::CheckInNow, now, "never checked in".into());
    };
    let ahead = last > now;
    let due = last.min(now).saturating_add(period);
    if now >= due {
        return make(
            PlanAction::CheckInNow,
            now,
            format!("due: last check-in {}", times::ago(last, now)),
        );
    }
    if input.pending > 0 {
        let what = if input.pending == 1 {
            "1 check-in waiting to be sent".to_string()
        } else {
            format!("{} check-ins waiting to be sent", input.pending)
        };
        return make(PlanAction::FlushOutbox, now, what);
    }
    let reason = if ahead {
        format!(
            "the last check-in is recorded after this phone's clock; next check-in in {}",
            times::span(due - now)
        )
    } else {
        format!(
            "last check-in {}; next in {}",
            times::ago(last, now),
            times::span(due - now)
        )
    };
    make(PlanAction::Wait, due, reason)
}

impl super::AgentStatus {
    /// What the check-in plan needs from this status.
    pub fn plan_input(&self) -> PlanInput {
        PlanInput {
            enrolled: self.enrolled,
            revoked: self.revoked.is_some(),
            retry_at: self.retry_at,
            reattest_requested: self.reattest_requested,
            last_check_in_at: self.last_check_in_at,
            pending: u64::try_from(self.pending).unwrap_or(u64::MAX),
            check_in_hours: self.check_in_hours,
            attestations_per_day: self.attestations_per_day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_000_000;
    const HOUR: u64 = 3600;

    /// Enrolled under the default policy (24 h, 96 a day), checked in `ago` seconds ago.
    fn enrolled(ago: u64) -> PlanInput {
        PlanInput {
            enrolled: true,
            last_check_in_at: Some(NOW - ago),
            check_in_hours: 24,
            attestations_per_day: 96,
            ..PlanInput::default()
        }
    }

    #[test]
    fn period_is_a_third_of_the_window_within_floor_cap_and_allowance() {
        assert_eq!(period_secs(24, 96), 8 * HOUR);
        assert_eq!(period_secs(6, 96), 2 * HOUR);
        // Floor: 15 minutes (an hour's third is 20 minutes; the allowance 30).
        assert_eq!(period_secs(1, 1000), 20 * 60);
        assert_eq!(period_secs(0, 0), MIN_PERIOD_SECS);
        assert_eq!(period_secs(0, 1_000_000), MIN_PERIOD_SECS);
        // Allowance: 96 a day allows one every 30 minutes at half use.
        assert_eq!(period_secs(1, 96), 30 * 60);
        // Cap: 12 hours.
        assert_eq!(period_secs(72, 96), MAX_PERIOD_SECS);
        assert_eq!(period_secs(u32::MAX, 0), MAX_PERIOD_SECS);
        // The allowance wins over the cap: 1 a day means every 48 hours.
        assert_eq!(period_secs(72, 1), 48 * HOUR);
        assert_eq!(period_secs(24, 3), 16 * HOUR);
        assert_eq!(period_secs(24, 4), 12 * HOUR);
        for h in [0, 1, 2, 24, 1000, u32::MAX] {
            for a in [0, 1, 2, 96, u32::MAX] {
                let p = period_secs(h, a);
                assert!(p >= MIN_PERIOD_SECS, "{h} {a}");
                if a > 0 {
                    // Never more than half the allowance a day.
                    assert!(86_400 / p <= u64::from(a) / 2 + 1, "{h} {a} {p}");
                }
            }
        }
    }

    #[test]
    fn not_enrolled_or_revoked_stops() {
        let p = plan(&PlanInput::default(), NOW);
        assert_eq!(p.action, PlanAction::Stop);
        assert_eq!(p.at, 0);
        assert!(!p.needs_network);
        assert!(p.reason.starts_with("not enrolled"), "{}", p.reason);
        assert!(p.period_secs >= MIN_PERIOD_SECS);
        // Revoked stops even with everything else asking for a check-in.
        let p = plan(
            &PlanInput {
                revoked: true,
                reattest_requested: true,
                pending: 4,
                last_check_in_at: None,
                ..enrolled(0)
            },
            NOW,
        );
        assert_eq!((p.action, p.at), (PlanAction::Stop, 0));
        assert!(
            p.reason.starts_with("revoked by department IT"),
            "{}",
            p.reason
        );
    }

    #[test]
    fn the_server_s_retry_after_is_waited_for_and_capped() {
        let p = plan(
            &PlanInput {
                retry_at: NOW + 600,
                reattest_requested: true,
                pending: 2,
                ..enrolled(30 * HOUR)
            },
            NOW,
        );
        assert_eq!((p.action, p.at), (PlanAction::Wait, NOW + 600));
        assert!(p.needs_network);
        // 2026-11-18T11:06:40Z + 10 minutes.
        assert_eq!(p.reason, "the server asked to wait until 11:16 UTC");
        // Boundary: at retry_at the wait is over.
        let p = plan(
            &PlanInput {
                retry_at: NOW,
                ..enrolled(30 * HOUR)
            },
            NOW,
        );
        assert_eq!(p.action, PlanAction::CheckInNow);
        // A garbage deadline is followed for one day at most.
        let p = plan(
            &PlanInput {
                retry_at: u64::MAX,
                ..enrolled(0)
            },
            NOW,
        );
        assert_eq!(
            (p.action, p.at),
            (PlanAction::Wait, NOW + MAX_RETRY_WAIT_SECS)
        );
        assert_eq!(
            p.reason,
            "the server asked to wait until 2026-11-19 11:06 UTC"
        );
        let p = plan(
            &PlanInput {
                retry_at: u64::MAX,
                ..enrolled(0)
            },
            u64::MAX - 5,
        );
        assert_eq!((p.action, p.at), (PlanAction::Wait, u64::MAX));
    }

    #[test]
    fn reattestation_and_first_check_in_are_now() {
        let p = plan(
            &PlanInput {
                reattest_requested: true,
                ..enrolled(60)
            },
            NOW,
        );
        assert_eq!((p.action, p.at), (PlanAction::CheckInNow, NOW));
        assert!(p.needs_network);
        assert!(p.reason.contains("fresh proof"), "{}", p.reason);
        let p = plan(
            &PlanInput {
                last_check_in_at: None,
                ..enrolled(0)
            },
            NOW,
        );
        assert_eq!((p.action, p.at), (PlanAction::CheckInNow, NOW));
        assert_eq!(p.reason, "never checked in");
    }

    #[test]
    fn due_is_last_check_in_plus_period() {
        // 8 h period: at exactly 8 h it is due, a second before it waits.
        let p = plan(&enrolled(8 * HOUR), NOW);
        assert_eq!((p.action, p.at), (PlanAction::CheckInNow, NOW));
        assert_eq!(p.reason, "due: last check-in 8 hours ago");
        assert_eq!(p.period_secs, 8 * HOUR);
        let p = plan(&enrolled(9 * HOUR), NOW);
        assert_eq!(p.reason, "due: last check-in 9 hours ago");
        let p = plan(&enrolled(8 * HOUR - 1), NOW);
        assert_eq!((p.action, p.at), (PlanAction::Wait, NOW + 1));
        assert!(p.needs_network);
        let p = plan(&enrolled(2 * HOUR), NOW);
        assert_eq!((p.action, p.at), (PlanAction::Wait, NOW + 6 * HOUR));
        assert_eq!(p.reason, "last check-in 2 hours ago; next in 6 hours");
    }

    #[test]
    fn queued_check_ins_are_flushed_before_due() {
        let p = plan(
            &PlanInput {
                pending: 1,
                ..enrolled(HOUR)
            },
            NOW,
        );
        assert_eq!((p.action, p.at), (PlanAction::FlushOutbox, NOW));
        assert!(p.needs_network);
        assert_eq!(p.reason, "1 check-in waiting to be sent");
        let p = plan(
            &PlanInput {
                pending: 3,
                ..enrolled(HOUR)
            },
            NOW,
        );
        assert_eq!(p.reason, "3 check-ins waiting to be sent");
        // When due, a check-in (it flushes the queue first anyway).
        let p = plan(
            &PlanInput {
                pending: 3,
                ..enrolled(8 * HOUR)
            },
            NOW,
        );
        assert_eq!(p.action, PlanAction::CheckInNow);
    }

    #[test]
    fn garbage_values_do_not_overflow_or_stall() {
        // Clock before the last check-in: wait one period from now, not until then.
        let p = plan(
            &PlanInput {
                last_check_in_at: Some(NOW + 30 * 86_400),
                ..enrolled(0)
            },
            NOW,
        );
        assert_eq!((p.action, p.at), (PlanAction::Wait, NOW + 8 * HOUR));
        assert!(
            p.reason.contains("after this phone's clock"),
            "{}",
            p.reason
        );
        let p = plan(
            &PlanInput {
                last_check_in_at: Some(u64::MAX),
                ..enrolled(0)
            },
            u64::MAX - 1,
        );
        assert_eq!((p.action, p.at), (PlanAction::Wait, u64::MAX));
        // A clock at 0 (unset) with a check-in at 0: waits one period.
        let p = plan(
            &PlanInput {
                last_check_in_at: Some(0),
                ..enrolled(0)
            },
            0,
        );
        assert_eq!((p.action, p.at), (PlanAction::Wait, 8 * HOUR));
        // No policy numbers (0): the floor period.
        let p = plan(
            &PlanInput {
                check_in_hours: 0,
                attestations_per_day: 0,
                ..enrolled(10 * 60)
            },
            NOW,
        );
        assert_eq!(p.period_secs, MIN_PERIOD_SECS);
        assert_eq!((p.action, p.at), (PlanAction::Wait, NOW + 5 * 60));
        // Every extreme at once: no panic, a sane plan.
        for now in [0, 1, NOW, u64::MAX] {
            for last in [None, Some(0), Some(NOW), Some(u64::MAX)] {
                for retry in [0, NOW, u64::MAX] {
                    let p = plan(
                        &PlanInput {
                            enrolled: true,
                            revoked: false,
                            retry_at: retry,
                            reattest_requested: false,
                            last_check_in_at: last,
                            pending: u64::MAX,
                            check_in_hours: u32::MAX,
                            attestations_per_day: u32::MAX,
                        },
                        now,
                    );
                    assert!(p.at >= now, "{now} {last:?} {retry}: {p:?}");
                    assert!(p.period_secs >= MIN_PERIOD_SECS);
                }
            }
        }
    }

    #[test]
    fn the_agent_status_feeds_the_plan() {
        let st = crate::agent::AgentStatus {
            enrolled: true,
            retry_at: 5,
            reattest_requested: true,
            last_check_in_at: Some(7),
            pending: 2,
            check_in_hours: 12,
            attestations_per_day: 10,
            ..crate::agent::AgentStatus::default()
        };
        assert_eq!(
            st.plan_input(),
            PlanInput {
                enrolled: true,
                revoked: false,
                retry_at: 5,
                reattest_requested: true,
                last_check_in_at: Some(7),
                pending: 2,
                check_in_hours: 12,
                attestations_per_day: 10,
            }
        );
    }
}
