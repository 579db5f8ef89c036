//! What log entries MEAN: a replay of the log that checks each entry against what came
//! before it and recomputes verdicts from the logged inputs.
//!
//! Why: signatures and Merkle proofs show that an entry is what the server recorded, not
//! that the server (or whoever has write access to its database before the next
//! checkpoint) recorded something true. With SQLite write access alone one can append
//! entries that replay a real signed token under new times, relabel a copy as another
//! department's officer, duplicate an entry, or mark a contraindicated attestation
//! `affirming`; every one of them carries a valid device signature. The replay finds them.
//!
//! How: [`Replay`] consumes entries in log order (first the key enrollments a bundle
//! carries from before its range, then the range) and keeps the state the server decided
//! with: policies by department (parsed once per `policy_change`), the officer registry,
//! rosters, the status list in force, issued enrollment tokens, devices (enrollment,
//! officer, department, key, platform, model, evidence, last `seq`, revocation) and the
//! tokens already seen. Every entry is checked against that state; every violation is
//! reported (not only the first) with its entry index and what is wrong, in words. Where
//! the replay holds every input of an attestation's verdict, the verdict and failures are
//! recomputed with pramaan-core's rules ([`evaluate_attestation`]) exactly as the server's
//! `attest::decide` does, and a logged verdict that differs is a violation naming both.
//! Inputs that precede a bundle's range (a policy set before it, a device whose evidence
//! may have been renewed before it) are not guessed at: such verdicts are counted, not
//! judged.
//!
//! One pass, O(1) amortised per entry (hash maps; one SHA-256 and one claims decode per
//! attestation), so it runs over million-entry bundles and in the server before each
//! checkpoint. The device signatures are not checked here: [`crate::bundle`] does that in
//! parallel; [`Replay::device`] hands out the enrolled keys for callers that check one.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use pramaan_core::claims::{Attestation, EnrollRequest, MAX_FUTURE_SKEW};
use pramaan_core::cose::Sign1;
use pramaan_core::evidence::status_list::StatusList;
use pramaan_core::evidence::{EvidenceKind, EvidenceSummary};
use pramaan_core::keys::P256PublicKey;
use pramaan_core::model::{Failure, Officer, Platform, Policy, Verdict};
use pramaan_core::policy::{
    DeviceState, EvalContext, Roster, StatusListView, evaluate_attestation, judge_evidence,
};
use serde::Serialize;
use uuid::Uuid;

use crate::checkpoint::VerifierKey;
use crate::{LogEntry, keychain};

/// How far an entry's time may go back behind an earlier entry's, seconds: the server
/// reads its clock before its write transaction, so two concurrent decisions may commit
/// in the other order. More than this is not concurrency.
pub const TIME_TOLERANCE: u64 = 60;

/// What kind of violation an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// A token, enroll request, policy or status list in the entry does not decode.
    Undecodable,
    /// The entry names another device, officer or department than its token's claims
    /// or the device's enrollment.
    Relabelled,
    /// A device's `seq` did not increase.
    SeqNotIncreasing,
    /// The same token was logged before.
    TokenReplayed,
    /// The entry was written before its token's `iat` (beyond the allowed skew).
    BeforeIat,
    /// The entry's time goes back behind an earlier entry's.
    TimeBackwards,
    /// Something accepted for a device after its revocation.
    AfterRevocation,
    /// An entry about a device no earlier entry enrolls.
    NotEnrolled,
    /// A device id enrolled again.
    EnrolledTwice,
    /// A device key enrolled again.
    KeyEnrolledTwice,
    /// An enrollment bound to another officer than its enrollment token was issued for.
    EnrollTokenMismatch,
    /// An enrollment token used twice.
    EnrollTokenReused,
    /// An enrollment accepted after its token expired.
    EnrollTokenExpired,
    /// An enrollment accepted with a token IT had cancelled.
    EnrollTokenCancelled,
    /// A second active device enrolled with a token that does not allow one.
    DeviceLimit,
    /// The logged verdict or failures differ from the recomputed ones.
    VerdictMismatch,
    /// An enrollment's logged assurance is not what its evidence earns under the policy
    /// then in force.
    AssuranceMismatch,
    /// A checkpoint key rotation not signed by the key it hands over from, or not from
    /// the key an earlier rotation handed over to.
    KeyRotation,
    /// An answer-key rotation whose endorsement does not verify under its old key, says
    /// something else than the entry, or that does not start at the key the previous
    /// rotation ended with.
    AnswerKeyChain,
}

/// One entry that does not mean what a genuine log would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The entry's index in the log.
    pub index: u64,
    /// What kind of violation.
    pub kind: ViolationKind,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}: {}", self.index, self.message)
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether the replay started at entry 0 (it then holds every input).
    pub complete: bool,
    /// Entries replayed (key enrollments not counted).
    pub entries: u64,
    /// Attestations replayed.
    pub attestations: u64,
    /// Verdicts recomputed from the logged inputs (equal or reported as violations).
    pub verdicts_recomputed: u64,
    /// Verdicts not recomputed because an input precedes the range (policy, officer row,
    /// roster, status list, or evidence the device may have renewed before the range).
    pub verdicts_inputs_before_range: u64,
    /// Verdicts not recomputed because an input is in no entry of the log (entries
    /// written before verdict inputs were logged, or an input the log lacks).
    pub verdicts_inputs_not_logged: u64,
    /// Every violation, in log order.
    pub violations: Vec<Violation>,
}

impl Report {
    /// No violation found.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Replays `key_enrollments` (entries from before the range that hold device keys), then
/// the range starting at `start`, and reports. What the bundle verifier calls.
pub fn check<'a>(
    key_enrollments: impl IntoIterator<Item = (u64, &'a LogEntry)>,
    start: u64,
    range: impl IntoIterator<Item = (u64, &'a LogEntry)>,
) -> Report {
    let mut replay = Replay::new(start == 0);
    for (index, entry) in key_enrollments {
        replay.key_enrollment(index, entry);
    }
    for (index, entry) in range {
        replay.step(index, entry);
    }
    replay.into_report()
}

/// What the replay knows of a device's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceState {
    /// The evidence in force (from its enrollment or a later re-attestation).
    Known(Box<EvidenceSummary>),
    /// Enrolled before the range: it may have been renewed before the range.
    BeforeRange,
    /// The enrollment entry does not carry it (written before inputs were logged).
    NotLogged,
}

/// A device as its entries so far establish it.
#[derive(Debug, Clone)]
pub struct Device {
    /// Index of its enrollment entry.
    pub enrolled_at: u64,
    /// The officer it was enrolled for.
    pub officer_id: String,
    /// The officer's department at enrollment.
    pub department: String,
    /// The enrolled key, or why the enroll request does not give one.
    pub key: Result<P256PublicKey, String>,
    /// The platform from the enroll request.
    pub platform: Option<Platform>,
    /// The model from the enroll request (R2 compares it with the registry).
    pub model: String,
    /// Its evidence in force.
    pub evidence: EvidenceState,
    /// Its last `seq` and the entry that carried it.
    pub last_seq: Option<(u64, u64)>,
    /// The entry that revoked it.
    pub revoked_at: Option<u64>,
}

/// A policy in force and the entry that set it.
#[derive(Debug, Clone)]
pub struct PolicyInForce {
    /// The `policy_change` entry.
    pub index: u64,
    /// The policy; `Err` when the entry's JSON does not parse.
    pub policy: Result<Policy, String>,
}

/// One group's roster and the entry that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterInForce {
    /// The `roster_set` entry.
    pub index: u64,
    /// The handles.
    pub handles: Vec<String>,
}

/// The status list in force.
#[derive(Debug, Clone)]
pub struct StatusListInForce {
    /// The `status_list_installed` entry.
    pub index: u64,
    /// When it was installed.
    pub installed_at: u64,
    /// When Google published the copy.
    pub fetched_at: u64,
    /// The parsed list; `Err` when the entry's JSON does not parse.
    pub list: Result<StatusList, String>,
}

/// An issued enrollment token.
#[derive(Debug, Clone)]
struct IssuedToken {
    index: u64,
    officer_id: String,
    expires: u64,
    allow_additional: bool,
    used_at: Option<u64>,
    /// The entry that cancelled it.
    cancelled_at: Option<u64>,
}

#[derive(Debug, Default)]
struct DeptRosters {
    groups: BTreeMap<(String, String), RosterInForce>,
    /// The groups as core's rules take them, rebuilt on each `roster_set`.
    list: Vec<Roster>,
}

/// The verdict inputs other than the device.
#[derive(Debug, Default)]
struct Inputs {
    complete: bool,
    policies: HashMap<String, PolicyInForce>,
    registry: HashMap<String, (u64, Officer)>,
    rosters: HashMap<String, DeptRosters>,
    status_list: Option<StatusListInForce>,
}

/// A recomputed verdict, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recomputed {
    /// The verdict and failures core's rules give on the logged inputs.
    Verdict(Verdict, Vec<Failure>),
    /// An input precedes the range: what it is.
    InputsBeforeRange(String),
    /// An input is in no entry: what it is.
    InputsNotLogged(String),
    /// The entry is not an attestation, its device is unknown or its token does not
    /// decode: why.
    NotApplicable(String),
}

/// The replay's state; feed it entries in log order with [`Replay::step`].
#[derive(Debug, Default)]
pub struct Replay {
    inputs: Inputs,
    devices: HashMap<Uuid, Device>,
    keys: HashMap<Vec<u8>, (u64, Uuid)>,
    enroll_tokens: HashMap<Vec<u8>, IssuedToken>,
    /// Devices enrolled in the range and not revoked, by officer (the server's
    /// one-active-device rule).
    active: HashMap<String, Vec<(Uuid, u64)>>,
    /// First 16 bytes of each token's SHA-256 -> the entry that carried it.
    tokens: HashMap<[u8; 16], u64>,
    /// The latest entry time so far and its entry.
    latest: Option<(u64, u64)>,
    /// The checkpoint key the last rotation seen handed over to, and its entry.
    log_key: Option<(u64, VerifierKey)>,
    /// The answer key the last rotation replayed ended with, and its entry.
    answer_key: Option<(u64, Vec<u8>)>,
    report: Report,
}

impl Replay {
    /// An empty replay. `complete`: it will be fed the log from entry 0, so an input it
    /// has not seen does not exist (rather than precede the range).
    pub fn new(complete: bool) -> Self {
        let mut r = Self::default();
        r.inputs.complete = complete;
        r.report.complete = complete;
        r
    }

    /// The report so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The report.
    pub fn into_report(self) -> Report {
        self.report
    }

    fn violation(&mut self, index: u64, kind: ViolationKind, message: String) {
        self.report.violations.push(Violation {
            index,
            kind,
            message,
        });
    }

    /// Records an enrollment from before the range (carried for its key): no checks of
    /// order, and its evidence may have been renewed since.
    pub fn key_enrollment(&mut self, index: u64, entry: &LogEntry) {
        if let LogEntry::Enrollment { .. } = entry {
            self.enrollment(index, entry, true);
        }
    }

    /// Replays one entry of the range.
    pub fn step(&mut self, index: u64, entry: &LogEntry) {
        self.report.entries += 1;
        let at = entry.at();
        match self.latest {
            Some((latest, latest_index)) if at.saturating_add(TIME_TOLERANCE) < latest => self
                .violation(
                    index,
                    ViolationKind::TimeBackwards,
                    format!(
                        "written at {at}, {} s before entry {latest_index} (at {latest}) that precedes it (more than the {TIME_TOLERANCE} s tolerated)",
                        latest - at
                    ),
                ),
            Some((latest, _)) if latest >= at => {}
            _ => self.latest = Some((at, index)),
        }
        match entry {
            LogEntry::Enrollment { .. } => self.enrollment(index, entry, false),
            LogEntry::Attestation { .. } => self.attestation(index, entry),
            LogEntry::Revocation {
                department,
                device_id,
                ..
            } => match self.devices.get_mut(device_id) {
                Some(d) => {
                    let relabel = (d.department != *department).then(|| {
                        format!(
                            "revocation logged for department {department}, but device {device_id} was enrolled at entry {} in department {}",
                            d.enrolled_at, d.department
                        )
                    });
                    d.revoked_at.get_or_insert(index);
                    if let Some(devices) = self.active.get_mut(&d.officer_id) {
                        devices.retain(|(id, _)| id != device_id);
                    }
                    if let Some(m) = relabel {
                        self.violation(index, ViolationKind::Relabelled, m);
                    }
                }
                // A bundle carries only the enrollments of attesting devices: outside a
                // complete replay an unknown revoked device is not a finding.
                None if self.inputs.complete => self.violation(
                    index,
                    ViolationKind::NotEnrolled,
                    format!("revocation of device {device_id}, which no earlier entry enrolls"),
                ),
                None => {}
            },
            LogEntry::ReattestRequested { device_id, .. } => match self.devices.get(device_id) {
                Some(Device {
                    revoked_at: Some(r),
                    ..
                }) => {
                    let r = *r;
                    self.violation(
                        index,
                        ViolationKind::AfterRevocation,
                        format!(
                            "re-attestation requested for device {device_id} after its revocation at entry {r}"
                        ),
                    );
                }
                Some(_) => {}
                None if self.inputs.complete => self.violation(
                    index,
                    ViolationKind::NotEnrolled,
                    format!(
                        "re-attestation requested for device {device_id}, which no earlier entry enrolls"
                    ),
                ),
                None => {}
            },
            LogEntry::PolicyChange {
                department,
                policy_json,
                ..
            } => {
                let policy = match serde_json::from_str::<Policy>(policy_json) {
                    Ok(p) if p.department != *department => {
                        let m = format!(
                            "policy change logged for department {department} carries the policy of department {}",
                            p.department
                        );
                        self.violation(index, ViolationKind::Relabelled, m.clone());
                        Err(m)
                    }
                    Ok(p) => Ok(p),
                    Err(e) => {
                        let m = format!("the policy of department {department} does not parse: {e}");
                        self.violation(index, ViolationKind::Undecodable, m.clone());
                        Err(m)
                    }
                };
                self.inputs
                    .policies
                    .insert(department.clone(), PolicyInForce { index, policy });
            }
            LogEntry::RegistryImport { officers, .. } => {
                // An imported row replaces the officer's (a retired officer is reinstated).
                for o in officers {
                    self.inputs
                        .registry
                        .insert(o.officer_id.clone(), (index, o.clone()));
                }
            }
            LogEntry::OfficerRetired {
                officer_id,
                devices,
                at,
                ..
            } => {
                if let Some((_, o)) = self.inputs.registry.get_mut(officer_id) {
                    o.retired_at = Some(*at);
                }
                // The retirement revokes the listed devices, as revocations would.
                for device_id in devices {
                    if let Some(d) = self.devices.get_mut(device_id) {
                        d.revoked_at.get_or_insert(index);
                        if let Some(active) = self.active.get_mut(&d.officer_id) {
                            active.retain(|(id, _)| id != device_id);
                        }
                    }
                }
            }
            LogEntry::OfficerMoved {
                officer_id,
                to,
                devices,
                ..
            } => {
                if let Some((row, o)) = self.inputs.registry.get_mut(officer_id) {
                    *row = index;
                    o.department = to.clone();
                }
                // The devices follow: later entries about them name department `to`.
                for device_id in devices {
                    if let Some(d) = self.devices.get_mut(device_id) {
                        d.department = to.clone();
                    }
                }
            }
            LogEntry::RosterSet {
                department,
                platform,
                group,
                handles,
                ..
            } => {
                let d = self.inputs.rosters.entry(department.clone()).or_default();
                // No handles: no roster for the group (the store then has no rows of it);
                // the entry is kept so a partial replay knows the group was set.
                d.groups.insert(
                    (platform.clone(), group.clone()),
                    RosterInForce {
                        index,
                        handles: handles.clone(),
                    },
                );
                d.list = d
                    .groups
                    .iter()
                    .filter(|(_, r)| !r.handles.is_empty())
                    .map(|((platform, group), r)| {
                        Roster::new(
                            platform.clone(),
                            group.clone(),
                            r.handles.iter().cloned().collect(),
                        )
                    })
                    .collect();
            }
            LogEntry::EnrollTokenIssued {
                officer_id,
                token_hash,
                expires,
                allow_additional,
                ..
            } => {
                self.enroll_tokens.insert(
                    token_hash.clone(),
                    IssuedToken {
                        index,
                        officer_id: officer_id.clone(),
                        expires: *expires,
                        allow_additional: *allow_additional,
                        used_at: None,
                        cancelled_at: None,
                    },
                );
            }
            LogEntry::EnrollTokenCancelled { token_hash, .. } => {
                // A cancellation of a token issued before the range is not a finding; one
                // of a token never issued in a complete replay changes nothing either way.
                if let Some(t) = self.enroll_tokens.get_mut(token_hash) {
                    t.cancelled_at.get_or_insert(index);
                }
            }
            LogEntry::StatusListInstalled {
                at, fetched_at, json, ..
            } => {
                let list = StatusList::from_json(json).map_err(|e| e.to_string());
                if let Err(e) = &list {
                    let m = format!("the installed status list does not parse: {e}");
                    self.violation(index, ViolationKind::Undecodable, m);
                }
                self.inputs.status_list = Some(StatusListInForce {
                    index,
                    installed_at: *at,
                    fetched_at: *fetched_at,
                    list,
                });
            }
            LogEntry::ApiTokenIssued { .. } => {}
            LogEntry::LogKeyRotated { .. } => self.key_rotation(index, entry),
            LogEntry::AnswerKeyRotated {
                at,
                old_key,
                new_key,
                endorsement,
                ..
            } => self.answer_key_rotated(index, *at, old_key, new_key, endorsement),
        }
    }

    /// A rotation hands over from the key the previous rotation handed over to (or, the
    /// first one seen, from whatever key it names: the bundle ties that one to the
    /// auditor's key), signed by that key.
    fn key_rotation(&mut self, index: u64, entry: &LogEntry) {
        let checked = match (&self.log_key, entry) {
            (Some((_, in_force)), _) => keychain::check_rotation(in_force, entry),
            (
                None,
                LogEntry::LogKeyRotated {
                    old,
                    new,
                    signature,
                    ..
                },
            ) => VerifierKey::parse(old)
                .map_err(|source| keychain::ChainError::BadKey {
                    which: "old",
                    source,
                })
                .and_then(|from| keychain::check_signed(&from, old, new, signature)),
            (None, _) => return,
        };
        match checked {
            Ok(new) => self.log_key = Some((index, new)),
            Err(e) => {
                let after = match &self.log_key {
                    Some((i, _)) => format!(" (the rotation at entry {i} set the key in force)"),
                    None => String::new(),
                };
                let m = format!("the checkpoint key rotation does not hold: {e}{after}");
                self.violation(index, ViolationKind::KeyRotation, m);
            }
        }
    }

    /// The checkpoint key the last valid rotation replayed handed over to, with the
    /// index of its entry (`None` before any).
    pub fn log_key(&self) -> Option<(u64, &VerifierKey)> {
        self.log_key.as_ref().map(|(i, k)| (*i, k))
    }

    /// An answer-key rotation: the endorsement must verify under the entry's old key and
    /// say what the entry says, and the old key must be the one the previous rotation
    /// replayed ended with. The key before the first rotation is in no entry (receipts
    /// are not logged): an auditor compares it with the key a phone or the deployment's
    /// records hold (`audit show` prints it).
    fn answer_key_rotated(
        &mut self,
        index: u64,
        at: u64,
        old_key: &[u8],
        new_key: &[u8],
        endorsement: &[u8],
    ) {
        use pramaan_core::agent::answer_keys;
        if let Some((prev, key)) = &self.answer_key
            && key.as_slice() != old_key
        {
            let m = format!(
                "answer-key rotation from key {}, but the rotation at entry {prev} ended with key {}",
                hex::encode(old_key),
                hex::encode(key)
            );
            self.violation(index, ViolationKind::AnswerKeyChain, m);
        }
        let problem = match <[u8; 32]>::try_from(old_key) {
            Err(_) => Some("its old key is not 32 bytes".to_string()),
            Ok(old) => match answer_keys::verify(&old, endorsement) {
                Err(e) => Some(format!(
                    "its endorsement does not verify under its old key: {e}"
                )),
                Ok(e) if e.new_key != new_key => {
                    Some("its endorsement endorses another key than the entry names".into())
                }
                Ok(e) if e.since != at => {
                    Some(format!("its endorsement says {}, the entry {at}", e.since))
                }
                Ok(_) => None,
            },
        };
        if let Some(p) = problem {
            self.violation(
                index,
                ViolationKind::AnswerKeyChain,
                format!("answer-key rotation: {p}"),
            );
        }
        self.answer_key = Some((index, new_key.to_vec()));
    }

    fn enrollment(&mut self, index: u64, entry: &LogEntry, before_range: bool) {
        let LogEntry::Enrollment {
            department,
            officer_id,
            device_id,
            request,
            evidence,
            ..
        } = entry
        else {
            return;
        };
        let req = decode_request(request);
        if let Err(e) = &req {
            self.violation(
                index,
                ViolationKind::Undecodable,
                format!("the enroll request of device {device_id} does not decode: {e}"),
            );
        }
        if let Some(d) = self.devices.get(device_id) {
            let m = format!(
                "device {device_id} was already enrolled at entry {}",
                d.enrolled_at
            );
            self.violation(index, ViolationKind::EnrolledTwice, m);
            return;
        }
        let mut device = Device {
            enrolled_at: index,
            officer_id: officer_id.clone(),
            department: department.clone(),
            key: Err("the enroll request does not decode".into()),
            platform: None,
            model: String::new(),
            evidence: match (evidence, before_range) {
                (None, _) => EvidenceState::NotLogged,
                (Some(_), true) => EvidenceState::BeforeRange,
                (Some(e), false) => EvidenceState::Known(Box::new(e.clone())),
            },
            last_seq: None,
            revoked_at: None,
        };
        if let Ok(req) = req {
            if let Some((other_index, other)) = self.keys.get(&req.key) {
                let m = format!(
                    "the device key was already enrolled at entry {other_index} (device {other})"
                );
                self.violation(index, ViolationKind::KeyEnrolledTwice, m);
            } else {
                self.keys.insert(req.key.clone(), (index, *device_id));
            }
            if let Some(t) = self.enroll_tokens.get_mut(&req.token_hash) {
                let issued = (t.index, t.officer_id.clone());
                let (expires, allow_additional) = (t.expires, t.allow_additional);
                let cancelled = t.cancelled_at;
                let used = t.used_at.replace(index);
                let at = entry.at();
                if at >= expires {
                    self.violation(
                        index,
                        ViolationKind::EnrollTokenExpired,
                        format!(
                            "written at {at}, but its enrollment token (entry {}) expired at {expires}",
                            issued.0
                        ),
                    );
                }
                let active = self
                    .active
                    .get(officer_id)
                    .and_then(|devices| devices.first().copied());
                if !allow_additional && let Some((other, other_index)) = active {
                    self.violation(
                        index,
                        ViolationKind::DeviceLimit,
                        format!(
                            "officer {officer_id} already has device {other} (enrolled at entry {other_index}, not revoked) and the enrollment token (entry {}) does not allow an additional device",
                            issued.0
                        ),
                    );
                }
                if issued.1 != *officer_id {
                    self.violation(
                        index,
                        ViolationKind::EnrollTokenMismatch,
                        format!(
                            "device {device_id} is bound to officer {officer_id}, but its enrollment token was issued at entry {} for officer {}",
                            issued.0, issued.1
                        ),
                    );
                }
                if let Some(u) = used {
                    self.violation(
                        index,
                        ViolationKind::EnrollTokenReused,
                        format!("the enrollment token was already used at entry {u}"),
                    );
                }
                if let Some(c) = cancelled {
                    self.violation(
                        index,
                        ViolationKind::EnrollTokenCancelled,
                        format!(
                            "device {device_id} enrolled with an enrollment token (entry {}) that was cancelled at entry {c}",
                            issued.0
                        ),
                    );
                }
            }
            if !before_range {
                self.enrollment_meaning(index, entry, req.platform);
            }
            device.key = P256PublicKey::from_cose_key_bytes(&req.key)
                .map_err(|e| format!("device key: {e}"));
            device.platform = Some(req.platform);
            device.model = req.device.model;
        }
        if !before_range {
            // Key enrollments are left out: their revocations may precede the range.
            self.active
                .entry(officer_id.clone())
                .or_default()
                .push((*device_id, index));
        }
        self.devices.insert(*device_id, device);
    }

    /// An enrollment's department against the officer's registry row, and its assurance
    /// against what its evidence earns under the policy in force (as the server judges it).
    fn enrollment_meaning(&mut self, index: u64, entry: &LogEntry, platform: Platform) {
        let LogEntry::Enrollment {
            at,
            department,
            officer_id,
            assurance,
            evidence,
            ..
        } = entry
        else {
            return;
        };
        if let Some((row, o)) = self.inputs.registry.get(officer_id)
            && o.department != *department
        {
            let m = format!(
                "enrollment logged in department {department}, but officer {officer_id}'s registry row (entry {row}) is in department {}",
                o.department
            );
            self.violation(index, ViolationKind::Relabelled, m);
        }
        let (
            Some(evidence),
            Some(PolicyInForce {
                policy: Ok(policy), ..
            }),
        ) = (evidence, self.inputs.policies.get(department))
        else {
            return;
        };
        let Ok(status_list) = self.inputs.status_view(evidence.kind) else {
            return;
        };
        let judged =
            judge_evidence(&policy.evidence, platform, evidence, status_list, *at).assurance;
        if judged != *assurance {
            let m = format!(
                "logged assurance {}, but the enrollment's evidence earns {} under the policy then in force",
                assurance.as_str(),
                judged.as_str()
            );
            self.violation(index, ViolationKind::AssuranceMismatch, m);
        }
    }

    fn attestation(&mut self, index: u64, entry: &LogEntry) {
        let LogEntry::Attestation {
            at,
            department,
            officer_id,
            device_id,
            token,
            verdict,
            failures,
            fresh_nonce,
            evidence,
        } = entry
        else {
            return;
        };
        self.report.attestations += 1;
        let mut found = Vec::new();
        let claims = match decode_claims(token) {
            Ok(c) => Some(c),
            Err(e) => {
                found.push((
                    ViolationKind::Undecodable,
                    format!("the token of device {device_id} does not decode: {e}"),
                ));
                None
            }
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, token);
        let mut short = [0u8; 16];
        short.copy_from_slice(&digest.as_ref()[..16]);
        if let Some(earlier) = self.tokens.get(&short) {
            found.push((
                ViolationKind::TokenReplayed,
                format!("the same token was already logged at entry {earlier}"),
            ));
        } else {
            self.tokens.insert(short, index);
        }
        if let Some(c) = &claims {
            if c.device_id != *device_id {
                found.push((
                    ViolationKind::Relabelled,
                    format!(
                        "the token's claims are about device {}, the entry names device {device_id}",
                        c.device_id
                    ),
                ));
            }
            if c.officer != *officer_id {
                found.push((
                    ViolationKind::Relabelled,
                    format!(
                        "the token's claims name officer {}, the entry names officer {officer_id}",
                        c.officer
                    ),
                ));
            }
            if at.saturating_add(MAX_FUTURE_SKEW) < c.iat {
                found.push((
                    ViolationKind::BeforeIat,
                    format!(
                        "written at {at}, {} s before the token's iat {} (the server allows {MAX_FUTURE_SKEW} s of skew)",
                        c.iat - at,
                        c.iat
                    ),
                ));
            }
        }
        let Some(device) = self.devices.get_mut(device_id) else {
            found.push((
                ViolationKind::NotEnrolled,
                format!("attestation of device {device_id}, which no earlier entry enrolls"),
            ));
            for (kind, message) in found {
                self.violation(index, kind, message);
            }
            return;
        };
        if device.officer_id != *officer_id || device.department != *department {
            found.push((
                ViolationKind::Relabelled,
                format!(
                    "logged for officer {officer_id} of department {department}, but device {device_id} was enrolled at entry {} for officer {} of department {}",
                    device.enrolled_at, device.officer_id, device.department
                ),
            ));
        }
        if let Some(r) = device.revoked_at {
            found.push((
                ViolationKind::AfterRevocation,
                format!("accepted after device {device_id} was revoked at entry {r}"),
            ));
        }
        if let Some(c) = &claims {
            match device.last_seq {
                Some((last, last_index)) if c.seq <= last => found.push((
                    ViolationKind::SeqNotIncreasing,
                    format!(
                        "seq {} is not above the device's seq {last} at entry {last_index}",
                        c.seq
                    ),
                )),
                _ => device.last_seq = Some((c.seq, index)),
            }
        }
        // Fresh evidence accepted with this token is the device's evidence from here on,
        // this verdict included (the server judges it before evaluating).
        if let Some(e) = evidence {
            device.evidence = EvidenceState::Known(Box::new(e.clone()));
        }
        if let Some(c) = &claims {
            match self.inputs.recompute(device, c, *at, *fresh_nonce) {
                Recomputed::Verdict(v, f) => {
                    self.report.verdicts_recomputed += 1;
                    if v != *verdict || f != *failures {
                        found.push((
                            ViolationKind::VerdictMismatch,
                            format!(
                                "logged {}, recomputed {}",
                                describe_verdict(*verdict, failures),
                                describe_verdict(v, &f)
                            ),
                        ));
                    }
                }
                Recomputed::InputsBeforeRange(_) => self.report.verdicts_inputs_before_range += 1,
                Recomputed::InputsNotLogged(_) | Recomputed::NotApplicable(_) => {
                    self.report.verdicts_inputs_not_logged += 1
                }
            }
        }
        for (kind, message) in found {
            self.violation(index, kind, message);
        }
    }

    /// The verdict core's rules give an attestation entry on the state replayed so far
    /// (call it before stepping the entry): what `audit show --state-at` prints beside
    /// the logged one.
    pub fn recompute(&self, entry: &LogEntry) -> Recomputed {
        let LogEntry::Attestation {
            at,
            device_id,
            token,
            fresh_nonce,
            evidence,
            ..
        } = entry
        else {
            return Recomputed::NotApplicable(format!("a {} has no verdict", entry.kind()));
        };
        let Some(device) = self.devices.get(device_id) else {
            return Recomputed::NotApplicable(format!("device {device_id} is not enrolled"));
        };
        let claims = match decode_claims(token) {
            Ok(c) => c,
            Err(e) => return Recomputed::NotApplicable(format!("the token does not decode: {e}")),
        };
        match evidence {
            Some(e) => {
                let mut renewed = device.clone();
                renewed.evidence = EvidenceState::Known(Box::new(e.clone()));
                self.inputs.recompute(&renewed, &claims, *at, *fresh_nonce)
            }
            None => self.inputs.recompute(device, &claims, *at, *fresh_nonce),
        }
    }

    /// A device as replayed so far.
    pub fn device(&self, device_id: &Uuid) -> Option<&Device> {
        self.devices.get(device_id)
    }

    /// The registry in force: every officer row seen, by officer id, with the entry that
    /// imported it.
    pub fn registry(&self) -> Vec<(u64, &Officer)> {
        let mut rows: Vec<(u64, &Officer)> = self
            .inputs
            .registry
            .values()
            .map(|(i, o)| (*i, o))
            .collect();
        rows.sort_by(|a, b| a.1.officer_id.cmp(&b.1.officer_id));
        rows
    }

    /// The policies in force, by department.
    pub fn policies(&self) -> Vec<(&str, &PolicyInForce)> {
        let mut p: Vec<(&str, &PolicyInForce)> = self
            .inputs
            .policies
            .iter()
            .map(|(d, p)| (d.as_str(), p))
            .collect();
        p.sort_by(|a, b| a.0.cmp(b.0));
        p
    }

    /// The rosters in force: (department, platform, group, roster), sorted.
    pub fn rosters(&self) -> Vec<(&str, &str, &str, &RosterInForce)> {
        let mut out = Vec::new();
        for (dept, d) in &self.inputs.rosters {
            for ((platform, group), r) in &d.groups {
                if !r.handles.is_empty() {
                    out.push((dept.as_str(), platform.as_str(), group.as_str(), r));
                }
            }
        }
        out.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        out
    }

    /// The status list in force, if one was installed.
    pub fn status_list(&self) -> Option<&StatusListInForce> {
        self.inputs.status_list.as_ref()
    }

    /// Whether the replay started at entry 0.
    pub fn is_complete(&self) -> bool {
        self.inputs.complete
    }
}

impl Inputs {
    /// The status list the rules take for evidence of `kind`, or why it is not known.
    fn status_view(&self, kind: EvidenceKind) -> Result<Option<StatusListView<'_>>, Recomputed> {
        let android = kind == EvidenceKind::AndroidKeyAttestation;
        match &self.status_list {
            Some(StatusListInForce {
                list: Ok(list),
                fetched_at,
                ..
            }) => Ok(Some(StatusListView {
                list,
                fetched_at: *fetched_at,
            })),
            Some(StatusListInForce { list: Err(e), .. }) if android => {
                Err(Recomputed::NotApplicable(e.clone()))
            }
            None if android && !self.complete => Err(Recomputed::InputsBeforeRange(
                "the status list in force".into(),
            )),
            _ => Ok(None),
        }
    }
    /// Core's rules on the logged inputs, as `attest::decide` evaluates them.
    fn recompute(
        &self,
        device: &Device,
        claims: &Attestation,
        at: u64,
        fresh_nonce: Option<bool>,
    ) -> Recomputed {
        let missing = |what: String| {
            if self.complete {
                Recomputed::InputsNotLogged(what)
            } else {
                Recomputed::InputsBeforeRange(what)
            }
        };
        let Some(fresh) = fresh_nonce else {
            return Recomputed::InputsNotLogged("whether the token answered a live nonce".into());
        };
        let evidence = match &device.evidence {
            EvidenceState::Known(e) => e,
            EvidenceState::BeforeRange => {
                return Recomputed::InputsBeforeRange("the device's evidence".into());
            }
            EvidenceState::NotLogged => {
                return Recomputed::InputsNotLogged("the device's evidence".into());
            }
        };
        let Some(platform) = device.platform else {
            return Recomputed::NotApplicable("the enroll request does not decode".into());
        };
        let policy = match self.policies.get(&device.department) {
            Some(PolicyInForce { policy: Ok(p), .. }) => p,
            Some(PolicyInForce { policy: Err(e), .. }) => {
                return Recomputed::NotApplicable(e.clone());
            }
            None => return missing(format!("the policy of department {}", device.department)),
        };
        let Some((_, officer)) = self.registry.get(&device.officer_id) else {
            return missing(format!("the registry row of officer {}", device.officer_id));
        };
        let rosters = self.rosters.get(&device.department);
        if !self.complete {
            // Only the groups the policy names are consulted (rule R4); each must have
            // been set in the range for the replay to know its roster.
            let known = |platform: &str, group: &str| {
                rosters.is_some_and(|d| {
                    d.groups.keys().any(|(p, g)| {
                        p.trim().eq_ignore_ascii_case(platform.trim()) && g.trim() == group.trim()
                    })
                })
            };
            if let Some(g) = policy.groups.iter().find(|g| !known(&g.platform, &g.id)) {
                return missing(format!("the roster of {} group {}", g.platform, g.id));
            }
        }
        let status_list = match self.status_view(evidence.kind) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let state = DeviceState {
            device_id: claims.device_id,
            platform,
            model: device.model.clone(),
            evidence,
            revoked: false,
            latest: None,
            last_fresh_at: None,
        };
        let ctx = EvalContext {
            now: at,
            status_list,
        };
        let empty = Vec::new();
        let rosters = rosters.map_or(&empty, |d| &d.list);
        let (verdict, failures, _) =
            evaluate_attestation(policy, officer, &state, claims, rosters, fresh, &ctx);
        Recomputed::Verdict(verdict, failures)
    }
}

/// "contraindicated: R2 bootloader unlocked; R4 not a member of ...".
pub fn describe_verdict(verdict: Verdict, failures: &[Failure]) -> String {
    if failures.is_empty() {
        return verdict.as_str().to_string();
    }
    let list: Vec<String> = failures
        .iter()
        .map(|f| format!("{} {}", f.rule.as_str(), f.detail))
        .collect();
    format!("{}: {}", verdict.as_str(), list.join("; "))
}

/// The claims of an attestation token, its signature not checked.
pub fn decode_claims(token: &[u8]) -> Result<Attestation, String> {
    let msg = Sign1::parse(token).map_err(|e| format!("not a COSE_Sign1: {e}"))?;
    Attestation::from_cbor(msg.unverified_payload()).map_err(|e| format!("claims: {e}"))
}

/// The payload of an enroll request, its signature not checked.
pub fn decode_request(request: &[u8]) -> Result<EnrollRequest, String> {
    let msg = Sign1::parse(request).map_err(|e| format!("not a COSE_Sign1: {e}"))?;
    EnrollRequest::from_logged_cbor(msg.unverified_payload()).map_err(|e| format!("payload: {e}"))
}
