//! Department policy and the compliance rules R1..R5 (design sections 1 and 6).
//!
//! The evaluation is a pure function of (policy, registry row, latest accepted attestation,
//! rosters, now), so the phone can show the officer exactly what is missing and the server
//! reaches the same verdict from the same inputs; nothing else decides compliance.
//!
//! Five rooms: [`document`] parses, resolves and validates a department's policy file,
//! [`rules`] evaluates R1..R5, [`evidence`] judges a device's platform evidence against
//! the policy's `[evidence]` requirements (part of R2), [`remedy`] turns a failure into
//! the officer's next step, [`csv`] reads the registry and roster uploads, [`phone`] writes
//! mobiles and roster handles in one E.164 form for both, [`catalog`]
//! holds the known messaging platforms. The types they share live in [`crate::model`] and
//! are re-exported here, so `pramaan_core::policy::{Policy, Rule, Officer}` keep working.

pub mod catalog;
pub mod csv;
pub mod document;
pub mod evidence;
pub mod phone;
pub mod remedy;
pub mod rules;

pub use crate::model::{ComplianceStatus, GroupSpec, Officer, PlatformSpec, Policy, Rule};
pub use csv::{
    RosterRows, RowError, email_domain_warning, officer_rows_from_csv, officer_rows_from_csv_at,
    officers_from_csv, roster_from_csv,
};
pub use document::PolicyError;
pub use evidence::{EvidenceJudgement, StatusListView, judge_evidence};
pub use phone::{normalize_handle, normalize_mobile};
pub use remedy::{FailureKind, remedy};
pub use rules::{
    Accepted, DeviceProof, DeviceState, EvalContext, Evaluation, EvidenceLevel, GroupEvidence,
    Roster, describe_evidence, evaluate_attestation, evaluate_attestation_judged, evaluate_officer,
    utc_minute,
};

#[cfg(test)]
mod tests;
