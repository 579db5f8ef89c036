//! The check-in plan as the apps receive it: records over
//! [`pramaan_core::agent::plan`], which holds the rules (see its module doc). The
//! background work (WorkManager, BGTaskScheduler) asks [`Agent::plan`] each time it
//! wakes and does what it says; [`plan_check_in`] is the same decision for any status
//! record.

use pramaan_core::agent::plan::{self, PlanInput};

use crate::{Agent, AgentStatus, ApiError};

/// What the background work does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PlanAction {
    /// Check in now.
    CheckInNow,
    /// Send the queued check-ins now.
    FlushOutbox,
    /// Nothing until `at`.
    Wait,
    /// Nothing at all (not enrolled or revoked): cancel the periodic work.
    Stop,
}

impl From<plan::PlanAction> for PlanAction {
    fn from(a: plan::PlanAction) -> Self {
        match a {
            plan::PlanAction::CheckInNow => PlanAction::CheckInNow,
            plan::PlanAction::FlushOutbox => PlanAction::FlushOutbox,
            plan::PlanAction::Wait => PlanAction::Wait,
            plan::PlanAction::Stop => PlanAction::Stop,
        }
    }
}

/// The check-in plan.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckInPlan {
    /// What to do.
    pub action: PlanAction,
    /// When to act (Unix seconds): `now` for `CheckInNow` and `FlushOutbox`, the due time
    /// for `Wait`, 0 for `Stop`.
    pub at: u64,
    /// The periodic work's interval, seconds (at least 900).
    pub period_secs: u64,
    /// Whether the work should wait for a network connection.
    pub needs_network: bool,
    /// Why, for logs and the screen ("due: last check-in 9 hours ago").
    pub reason: String,
}

impl From<plan::Plan> for CheckInPlan {
    fn from(p: plan::Plan) -> Self {
        Self {
            action: p.action.into(),
            at: p.at,
            period_secs: p.period_secs,
            needs_network: p.needs_network,
            reason: p.reason,
        }
    }
}

/// The check-in plan for `status` at `now` (Unix seconds). Pure.
#[uniffi::export]
pub fn plan_check_in(status: AgentStatus, now: u64) -> CheckInPlan {
    let input = PlanInput {
        enrolled: status.enrolled,
        revoked: status.revoked.is_some(),
        retry_at: status.retry_at,
        reattest_requested: status.reattest_requested,
        last_check_in_at: status.last_check_in_at,
        pending: status.pending,
        check_in_hours: status.check_in_hours,
        attestations_per_day: status.attestations_per_day,
    };
    plan::plan(&input, now).into()
}

#[uniffi::export]
impl Agent {
    /// The check-in plan for the agent's own status at `now` (Unix seconds).
    pub fn plan(&self, now: u64) -> Result<CheckInPlan, ApiError> {
        Ok(plan_check_in(self.status()?, now))
    }
}
