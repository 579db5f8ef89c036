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
