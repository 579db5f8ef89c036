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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{soft_agent, unenrolled_record};

    const NOW: u64 = 1_795_000_000;

    #[test]
    fn every_field_of_the_record_reaches_the_plan() {
        let enrolled = AgentStatus {
            enrolled: true,
            last_check_in_at: Some(NOW - 3600),
            check_in_hours: 24,
            attestations_per_day: 96,
            ..unenrolled_record()
        };
        let p = plan_check_in(enrolled.clone(), NOW);
        assert_eq!(
            p,
            CheckInPlan {
                action: PlanAction::Wait,
                at: NOW + 7 * 3600,
                period_secs: 8 * 3600,
                needs_network: true,
                reason: "last check-in 1 hour ago; next in 7 hours".into(),
            }
        );
        let pending = AgentStatus {
            pending: 2,
            ..enrolled.clone()
        };
        assert_eq!(plan_check_in(pending, NOW).action, PlanAction::FlushOutbox);
        let reattest = AgentStatus {
            reattest_requested: true,
            ..enrolled.clone()
        };
        assert_eq!(plan_check_in(reattest, NOW).action, PlanAction::CheckInNow);
        let retry = AgentStatus {
            retry_at: NOW + 60,
            reattest_requested: true,
            ..enrolled.clone()
        };
        let p = plan_check_in(retry, NOW);
        assert_eq!((p.action, p.at), (PlanAction::Wait, NOW + 60));
        let limited = AgentStatus {
            attestations_per_day: 2,
            ..enrolled.clone()
        };
        assert_eq!(plan_check_in(limited, NOW).period_secs, 86_400);
        let revoked = AgentStatus {
            revoked: Some(crate::RevocationInfo {
                at: NOW,
                reason: None,
            }),
            ..enrolled
        };
        assert_eq!(plan_check_in(revoked, NOW).action, PlanAction::Stop);
    }

    #[test]
    fn an_unenrolled_agent_stops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = soft_agent(dir.path()).plan(NOW).expect("plan");
        assert_eq!(
            (p.action, p.at, p.needs_network),
            (PlanAction::Stop, 0, false)
        );
        assert!(p.period_secs >= 900);
    }
}
