//! `pramaan audit show BUNDLE`: read an audit bundle, entry by entry, and the state in
//! force at any entry.
//!
//! Why: `audit verify` says whether a bundle is genuine and consistent; an auditor also
//! has to READ it: who enrolled which device, what each attestation claimed, which verdict
//! the server gave and whether that verdict follows from the policy, registry and rosters
//! then in force. This decodes every entry (time, kind, officer, department, device, seq,
//! verdict, failures, a summary of the claims or of the input the entry records), checks
//! each device signature under the key the bundle's enrollment holds, and runs the same
//! replay the bundle verifier runs ([`pramaan_tlog::semantics`]), so each entry shows
//! what is wrong with it. `--state-at N` prints the registry, rosters, policies and status
//! list in force at entry N and, for an attestation, the verdict recomputed beside the
//! logged one. With `--log-key` the bundle is verified first; without it the entries are
//! shown as the file claims them, and the output says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use pramaan_core::claims::{Attestation, Failure, Verdict};
use pramaan_core::cose::Sign1;
use pramaan_core::model::Policy;
use pramaan_core::policy::describe_evidence;
use pramaan_core::text::{csv_cell, for_terminal};
use pramaan_tlog::LogEntry;
use pramaan_tlog::bundle::{self, Bundle};
use pramaan_tlog::checkpoint::VerifierKey;
use pramaan_tlog::semantics::{self, Recomputed, Replay};
use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::enroll_token::rfc3339;
use super::{CliError, CliResult, client};

/// `pramaan audit show`: list and decode a bundle's entries.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The bundle written by `pramaan audit pull`.
    pub file: PathBuf,
    /// The log's verifier key (`DATA/log.vkey`): verify the bundle before showing it.
    #[arg(long, value_name = "FILE")]
    pub log_key: Option<PathBuf>,
    /// Only this entry.
    #[arg(long, value_name = "N")]
    pub index: Option<u64>,
    /// Only entries about this officer.
    #[arg(long, value_name = "ID")]
    pub officer: Option<String>,
    /// Only entries about this device.
    #[arg(long, value_name = "ID")]
    pub device: Option<Uuid>,
    /// Only entries written at or after this time (RFC 3339 or Unix seconds).
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// Only entries written at or before this time (RFC 3339 or Unix seconds).
    #[arg(long, value_name = "T")]
    pub to: Option<String>,
    /// `table` for people, `json` or `csv` for scripts.
    #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
    pub format: ShowFormat,
    /// Print the registry, rosters, policies and status list in force at entry N (and,
    /// for an attestation, its verdict recomputed beside the logged one).
    #[arg(long, value_name = "N")]
    pub state_at: Option<u64>,
}

/// Output of `pramaan audit show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// Aligned columns, failures and findings on indented lines.
    Table,
    /// One JSON document (snake_case keys).
    Json,
    /// One row per entry.
    Csv,
}

/// One decoded entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Leaf index.
    pub index: u64,
    /// When the server wrote it, RFC 3339.
    pub time: String,
    /// The entry's kind (`enrollment`, `attestation`, ...).
    pub kind: String,
    /// The officer it names, if any.
    pub officer: Option<String>,
    /// The department it names, if any.
    pub department: Option<String>,
    /// The device it names, if any.
    pub device: Option<String>,
    /// The token's seq (attestations).
    pub seq: Option<u64>,
    /// The logged verdict (attestations).
    pub verdict: Option<String>,
    /// The logged failures (attestations).
    pub failures: Vec<Failure>,
    /// The claims, or what the entry records, in one line.
    pub summary: String,
    /// `verified`, or `not verified: why` (attestations and enrollments).
    pub signature: Option<String>,
    /// What the replay found wrong with the entry.
    pub problems: Vec<String>,
}

/// Runs `pramaan audit show`.
pub fn run(args: ShowArgs) -> CliResult {
    let bytes = client::read_file(&args.file)?;
    let b = Bundle::from_bytes(&bytes)
        .map_err(|e| CliError::new(format!("{}: {e}", args.file.display())))?;
    let verified = match &args.log_key {
        Some(path) => Some(verify(&args.file, &b, path)?),
        None => None,
    };
    let from = args.from.as_deref().map(parse_time).transpose()?;
    let to = args.to.as_deref().map(parse_time).transpose()?;
    if let Some(n) = args.state_at
        && !(b.start..b.end).contains(&n)
    {
        return Err(CliError::new(format!(
            "--state-at {n}: the bundle holds entries [{}, {})",
            b.start, b.end
        )));
    }
    let filter = Filter {
        index: args.index,
        officer: args.officer.clone(),
        device: args.device,
        from,
        to,
    };
    let shown = Shown::build(&b, args.state_at, &filter);
    let rows: Vec<&Row> = shown.rows.iter().collect();
    let header = match &verified {
        Some(s) if s.violations == 0 => format!(
            "{}: verified against the log key ({}, checkpoint size {}, root {}); entries [{}, {})",
            args.file.display(),
            s.origin,
            s.size,
            s.root,
            b.start,
            b.end
        ),
        Some(s) => format!(
            "{}: proofs and signatures verify against the log key ({}, checkpoint size {}, \
             root {}), but {} entries do not mean what the server would have written (see \
             their problems): NOT a genuine log; entries [{}, {})",
            args.file.display(),
            s.origin,
            s.size,
            s.root,
            s.violations,
            b.start,
            b.end
        ),
        None => format!(
            "{}: NOT verified against the log key (give --log-key): entries [{}, {}) as the file claims them",
            args.file.display(),
            b.start,
            b.end
        ),
    };
    let rotations: Vec<u64> = b.key_chain.iter().map(|k| k.index).collect();
    let header = if rotations.is_empty() {
        header
    } else {
        format!(
            "{header}\nCheckpoint key rotated {} time(s), at entries {} (the bundle carries each \
             rotation with its handover checkpoint)",
            rotations.len(),
            rotations
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if let (Some(n), Some(state)) = (args.state_at, &shown.state) {
        return print_state(n, state, args.format, &header);
    }
    match args.format {
        ShowFormat::Json => {
            let doc = json!({
                "file": args.file.display().to_string(),
                "verified_with_log_key": verified.as_ref().is_some_and(|v| v.violations == 0),
                "proofs_verified_with_log_key": verified.is_some(),
                "start": b.start,
                "end": b.end,
                "key_rotations": rotations,
                "entries": rows,
                "report": shown.report,
            });
            outln!("{}", pretty(&doc));
        }
        ShowFormat::Csv => {
            eprintln!("{header}");
            out!("{}", csv(&rows));
        }
        ShowFormat::Table => {
            outln!("{header}");
            out!("{}", table(&rows));
            outln!("{}", report_lines(&shown.report));
        }
    }
    Ok(())
}

/// What `--log-key` established about the bundle.
struct Verified {
    origin: String,
    size: u64,
    root: String,
    /// Entries whose meaning the replay refutes: the bundle's proofs and signatures hold,
    /// so `show` still lists it, each such entry with its problems.
    violations: usize,
}

fn verify(file: &Path, b: &Bundle, key_path: &Path) -> Result<Verified, CliError> {
    let text = client::read_text(key_path)?;
    let vk = VerifierKey::parse(text.trim())
        .map_err(|e| CliError::new(format!("{}: {e}", key_path.display())))?;
    let refused =
        |e: &dyn std::fmt::Display| CliError::new(format!("{}: NOT VERIFIED: {e}", file.display()));
    match bundle::verify(b, &vk, None) {
        Ok(s) => Ok(Verified {
            origin: s.origin,
            size: s.size,
            root: s.root,
            violations: 0,
        }),
        Err(bundle::VerifyError::Meaning(v)) => {
            let cp = bundle::open_checkpoint(b, &vk).map_err(|e| refused(&e))?;
            Ok(Verified {
                origin: cp.origin,
                size: cp.size,
                root: hex::encode(cp.root),
                violations: v.len(),
            })
        }
        Err(e) => Err(refused(&e)),
    }
}

/// Unix seconds, or RFC 3339.
fn parse_time(s: &str) -> Result<u64, CliError> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return Ok(n);
    }
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .ok_or_else(|| {
            CliError::new(format!(
                "time {s:?} is neither RFC 3339 (2026-11-29T10:00:00Z) nor Unix seconds"
            ))
        })
}

/// What the replay held just before one entry.
struct StateAt {
    registry: Vec<Json>,
    rosters: Vec<Json>,
    policies: Vec<Json>,
    status_list: Option<Json>,
    complete: bool,
    start: u64,
    row: Row,
    /// The logged verdict and failures, and the recomputation (attestations only).
    verdicts: Option<(Verdict, Vec<Failure>, Recomputed)>,
}

/// Which entries to list.
#[derive(Debug, Default)]
struct Filter {
    index: Option<u64>,
    officer: Option<String>,
    device: Option<Uuid>,
    from: Option<u64>,
    to: Option<u64>,
}

impl Filter {
    /// Whether the entry at `index` is listed (`None`: it does not decode, so only the
    /// index can select it).
    fn keeps(&self, index: u64, e: Option<&LogEntry>) -> bool {
        if self.index.is_some_and(|i| i != index) {
            return false;
        }
        let Some(e) = e else {
            return self.officer.is_none()
                && self.device.is_none()
                && self.from.is_none()
                && self.to.is_none();
        };
        let officer_ok = self.officer.as_deref().is_none_or(|o| match e {
            LogEntry::Enrollment { officer_id, .. }
            | LogEntry::Attestation { officer_id, .. }
            | LogEntry::EnrollTokenIssued { officer_id, .. }
            | LogEntry::EnrollTokenCancelled { officer_id, .. }
            | LogEntry::OfficerRetired { officer_id, .. }
            | LogEntry::OfficerMoved { officer_id, .. } => officer_id == o,
            LogEntry::RegistryImport { officers, .. } => officers.iter().any(|x| x.officer_id == o),
            _ => false,
        });
        officer_ok
            && self.device.is_none_or(|d| e.device_id() == Some(d))
            && self.from.is_none_or(|f| e.at() >= f)
            && self.to.is_none_or(|t| e.at() <= t)
    }
}

/// ` (ID, ID)` of the devices a retirement or move names, or nothing.
fn id_list(devices: &[uuid::Uuid]) -> String {
    if devices.is_empty() {
        return String::new();
    }
    let ids: Vec<String> = devices.iter().map(ToString::to_string).collect();
    format!(" ({})", ids.join(", "))
}

/// The decoded bundle: a row per listed entry, the replay's report (over every entry)
/// and the state asked for.
struct Shown {
    rows: Vec<Row>,
    report: semantics::Report,
    state: Option<StateAt>,
}

impl Shown {
    fn build(b: &Bundle, state_at: Option<u64>, filter: &Filter) -> Self {
        let mut replay = Replay::new(b.start == 0);
        for e in &b.enrollments {
            if let Ok(entry) = LogEntry::from_leaf(&e.leaf) {
                replay.key_enrollment(e.index, &entry);
            }
        }
        let mut rows = Vec::new();
        let mut state = None;
        for e in &b.entries {
            let entry = match LogEntry::from_leaf(&e.leaf) {
                Ok(entry) => entry,
                Err(err) => {
                    if filter.keeps(e.index, None) {
                        rows.push(Row {
                            index: e.index,
                            time: String::new(),
                            kind: "undecodable".into(),
                            officer: None,
                            department: None,
                            device: None,
                            seq: None,
                            verdict: None,
                            failures: Vec::new(),
                            summary: err.to_string(),
                            signature: None,
                            problems: vec![err.to_string()],
                        });
                    }
                    continue;
                }
            };
            let at_state = state_at == Some(e.index);
            if at_state || filter.keeps(e.index, Some(&entry)) {
                let row = row(e.index, &entry, &replay);
                if at_state {
                    state = Some(state_of(&replay, b.start, &entry, row.clone()));
                }
                if filter.keeps(e.index, Some(&entry)) {
                    rows.push(row);
                }
            }
            replay.step(e.index, &entry);
        }
        let report = replay.into_report();
        let mut by_index: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for v in &report.violations {
            by_index.entry(v.index).or_default().push(v.message.clone());
        }
        for r in &mut rows {
            if let Some(p) = by_index.get(&r.index) {
                r.problems.extend(p.iter().cloned());
            }
        }
        if let Some(s) = &mut state
            && let Some(p) = by_index.get(&s.row.index)
        {
            s.row.problems.extend(p.iter().cloned());
        }
        Self {
            rows,
            report,
            state,
        }
    }
}

/// One entry decoded, its signature checked under the key the replay holds.
fn row(index: u64, e: &LogEntry, replay: &Replay) -> Row {
    let mut r = Row {
        index,
        time: rfc3339(e.at()),
        kind: e.kind().into(),
        officer: None,
        department: None,
        device: e.device_id().map(|d| d.to_string()),
        seq: None,
        verdict: None,
        failures: Vec::new(),
        summary: String::new(),
        signature: None,
        problems: Vec::new(),
    };
    match e {
        LogEntry::Enrollment {
            department,
            officer_id,
            request,
            assurance,
            evidence,
            ..
        } => {
            r.officer = Some(officer_id.clone());
            r.department = Some(department.clone());
            let (summary, signature) = match semantics::decode_request(request) {
                Ok(req) => {
                    let sig = pramaan_core::keys::P256PublicKey::from_cose_key_bytes(&req.key)
                        .map_err(|e| format!("device key: {e}"))
                        .and_then(|k| {
                            Sign1::parse(request)
                                .map_err(|e| e.to_string())?
                                .verify_es256_any_s(&k, None)
                                .map(|_| ())
                                .map_err(|e| format!("proof of possession: {e}"))
                        });
                    (
                        format!(
                            "platform {}, model {}, assurance {}, evidence: {}",
                            req.platform.as_str(),
                            req.device.model,
                            assurance.as_str(),
                            evidence
                                .as_ref()
                                .map_or("not logged".into(), describe_evidence)
                        ),
                        sig,
                    )
                }
                Err(err) => (
                    format!("enroll request does not decode: {err}"),
                    Err(err.clone()),
                ),
            };
            r.summary = summary;
            r.signature = Some(signature_text(signature));
        }
        LogEntry::Attestation {
            department,
            officer_id,
            device_id,
            token,
            verdict,
            failures,
            evidence,
            ..
        } => {
            r.officer = Some(officer_id.clone());
            r.department = Some(department.clone());
            r.verdict = Some(verdict.as_str().into());
            r.failures = failures.clone();
            let device = replay.device(device_id);
            let sig = match device.map(|d| &d.key) {
                None => Err("no enrollment of the device precedes it in the bundle".to_string()),
                Some(Err(e)) => Err(e.clone()),
                Some(Ok(key)) => Sign1::parse(token)
                    .map_err(|e| format!("token: {e}"))
                    .and_then(|m| {
                        m.verify_es256_any_s(key, Some(device_id.as_bytes()))
                            .map(|_| ())
                            .map_err(|e| format!("device signature: {e}"))
                    }),
            };
            r.signature = Some(signature_text(sig));
            match semantics::decode_claims(token) {
                Ok(c) => {
                    r.seq = Some(c.seq);
                    let platform = device
                        .and_then(|d| d.platform)
                        .map_or("unknown", |p| p.as_str());
                    r.summary = claims_summary(&c, platform);
                    if let Some(ev) = evidence {
                        r.summary
                            .push_str(&format!("; fresh evidence: {}", describe_evidence(ev)));
                    }
                }
                Err(err) => r.summary = format!("token does not decode: {err}"),
            }
        }
        LogEntry::Revocation {
            department,
            reason,
            by,
            ..
        } => {
            r.department = Some(department.clone());
            r.summary = format!("revoked by {by}: {reason}");
        }
        LogEntry::PolicyChange {
            department,
            policy_json,
            by,
            ..
        } => {
            r.department = Some(department.clone());
            r.summary = match serde_json::from_str::<Policy>(policy_json) {
                Ok(p) => format!("set by {by}: {}", policy_summary(&p)),
                Err(e) => format!("set by {by}; the policy does not parse: {e}"),
            };
        }
        LogEntry::RegistryImport { officers, by, .. } => {
            let ids: Vec<&str> = officers.iter().map(|o| o.officer_id.as_str()).collect();
            let more = ids.len().saturating_sub(8);
            r.summary = format!(
                "{} officer row(s) imported by {by}: {}{}",
                ids.len(),
                ids[..ids.len().min(8)].join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        LogEntry::OfficerRetired {
            department,
            officer_id,
            reason,
            devices,
            by,
            ..
        } => {
            r.officer = Some(officer_id.clone());
            r.department = Some(department.clone());
            r.summary = format!(
                "retired by {by}: {reason}; {} device(s) revoked{}",
                devices.len(),
                id_list(devices)
            );
        }
        LogEntry::OfficerMoved {
            officer_id,
            from,
            to,
            devices,
            by,
            ..
        } => {
            r.officer = Some(officer_id.clone());
            r.department = Some(to.clone());
            r.summary = format!(
                "moved by {by} from {from} to {to}; {} device(s) follow{}",
                devices.len(),
                id_list(devices)
            );
        }
        LogEntry::RosterSet {
            department,
            platform,
            group,
            handles,
            by,
            ..
        } => {
            r.department = Some(department.clone());
            r.summary = if handles.is_empty() {
                format!("{platform} group {group}: roster removed by {by}")
            } else {
                format!(
                    "{platform} group {group}: {} handle(s) set by {by}",
                    handles.len()
                )
            };
        }
        LogEntry::EnrollTokenIssued {
            department,
            officer_id,
            token_hash,
            expires,
            allow_additional,
            by,
            ..
        } => {
            r.officer = Some(officer_id.clone());
            r.department = Some(department.clone());
            r.summary = format!(
                "issued by {by}, expires {}{}, token sha256 {}",
                rfc3339(*expires),
                if *allow_additional {
                    ", may enroll an additional device"
                } else {
                    ""
                },
                hex::encode(token_hash)
            );
        }
        LogEntry::EnrollTokenCancelled {
            department,
            officer_id,
            token_hash,
            by,
            ..
        } => {
            r.officer = Some(officer_id.clone());
            r.department = Some(department.clone());
            r.summary = format!(
                "cancelled by {by}, token sha256 {}",
                hex::encode(token_hash)
            );
        }
        LogEntry::ApiTokenIssued {
            role,
            department,
            label,
            ..
        } => {
            r.department = department.clone();
            r.summary = format!("{role} token {label:?}");
        }
        LogEntry::StatusListInstalled {
            fetched_at,
            json,
            by,
            ..
        } => {
            r.summary = format!(
                "Google's status list fetched {} installed by {by} ({} bytes)",
                rfc3339(*fetched_at),
                json.len()
            );
        }
        LogEntry::ReattestRequested { department, by, .. } => {
            r.department = Some(department.clone());
            r.summary = format!("fresh evidence requested by {by}");
        }
        LogEntry::LogKeyRotated {
            old,
            new,
            signature,
            by,
            ..
        } => {
            let label =
                |k: &str| VerifierKey::parse(k).map_or_else(|e| e.to_string(), |k| k.label());
            r.summary = format!(
                "checkpoint key rotated by {by}: from {} to {}",
                label(old),
                label(new)
            );
            let signed = VerifierKey::parse(old)
                .map_err(|e| e.to_string())
                .and_then(|from| {
                    pramaan_tlog::keychain::check_signed(&from, old, new, signature)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                });
            r.signature = Some(signature_text(signed));
        }
        LogEntry::AnswerKeyRotated {
            old_key,
            new_key,
            endorsement,
            by,
            ..
        } => {
            let endorsed = <[u8; 32]>::try_from(old_key.as_slice())
                .map_err(|_| "the old key is not 32 bytes".to_string())
                .and_then(|old| {
                    pramaan_core::agent::answer_keys::verify(&old, endorsement)
                        .map_err(|e| e.to_string())
                })
                .and_then(|e| {
                    (e.new_key == *new_key)
                        .then_some(())
                        .ok_or_else(|| "it endorses another key".to_string())
                });
            r.summary = format!(
                "answer key rotated by {by}: {} -> {}, endorsement {}",
                hex::encode(old_key),
                hex::encode(new_key),
                signature_text(endorsed)
            );
        }
    }
    r
}

fn signature_text(r: Result<(), String>) -> String {
    match r {
        Ok(()) => "verified".into(),
        Err(e) => format!("not verified: {e}"),
    }
}

fn claims_summary(c: &Attestation, platform: &str) -> String {
    let apps: Vec<&str> = c
        .apps
        .iter()
        .filter(|a| a.present)
        .map(|a| a.id.as_str())
        .collect();
    let groups: Vec<String> = c
        .groups
        .iter()
        .filter(|g| g.member)
        .map(|g| format!("{}/{} as {}", g.platform, g.group, g.handle))
        .collect();
    let none = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "{platform}; apps {}; groups {}; emails {}; lock {}; {}",
        if apps.is_empty() {
            "none".into()
        } else {
            apps.join(", ")
        },
        none(&groups),
        none(&c.email),
        if c.lock { "set" } else { "not set" },
        if c.nonce.is_some() {
            "online (server nonce)"
        } else {
            "offline check-in"
        }
    )
}

fn policy_summary(p: &Policy) -> String {
    let platforms: Vec<&str> = p.platforms.iter().map(|x| x.name.as_str()).collect();
    let groups: Vec<String> = p
        .groups
        .iter()
        .map(|g| format!("{}/{}", g.platform, g.id))
        .collect();
    format!(
        "email domains {}; platforms {}; groups {}; check in every {} h",
        p.email_domains.join(", "),
        platforms.join(", "),
        groups.join(", "),
        p.check_in_hours
    )
}

fn state_of(replay: &Replay, start: u64, entry: &LogEntry, row: Row) -> StateAt {
    let registry = replay
        .registry()
        .into_iter()
        .map(|(index, o)| {
            json!({
                "officer_id": o.officer_id,
                "name": o.name,
                "department": o.department,
                "email": o.email,
                "entitled": o.entitled,
                "phone_model": o.phone_model,
                "imported_at_entry": index,
            })
        })
        .collect();
    let rosters = replay
        .rosters()
        .into_iter()
        .map(|(dept, platform, group, r)| {
            json!({
                "department": dept,
                "platform": platform,
                "group": group,
                "handles": r.handles,
                "set_at_entry": r.index,
            })
        })
        .collect();
    let policies = replay
        .policies()
        .into_iter()
        .map(|(dept, p)| match &p.policy {
            Ok(policy) => json!({
                "department": dept,
                "set_at_entry": p.index,
                "summary": policy_summary(policy),
                "policy": policy,
            }),
            Err(e) => json!({ "department": dept, "set_at_entry": p.index, "error": e }),
        })
        .collect();
    let status_list = replay.status_list().map(|s| {
        json!({
            "installed_at_entry": s.index,
            "installed": rfc3339(s.installed_at),
            "fetched": rfc3339(s.fetched_at),
            "age_seconds": entry.at().saturating_sub(s.fetched_at),
            "error": s.list.as_ref().err(),
        })
    });
    let verdicts = match entry {
        LogEntry::Attestation {
            verdict, failures, ..
        } => Some((*verdict, failures.clone(), replay.recompute(entry))),
        _ => None,
    };
    StateAt {
        registry,
        rosters,
        policies,
        status_list,
        complete: replay.is_complete(),
        start,
        row,
        verdicts,
    }
}

/// The recomputation beside the logged verdict, as JSON.
fn recomputed_json(logged: (Verdict, &[Failure]), r: &Recomputed) -> Json {
    match r {
        Recomputed::Verdict(v, f) => json!({
            "verdict": v.as_str(),
            "failures": f,
            "equal": logged.0 == *v && logged.1 == f.as_slice(),
        }),
        Recomputed::InputsBeforeRange(what) => json!({
            "verdict": null,
            "why_not": format!("{what} precedes the bundle's range"),
        }),
        Recomputed::InputsNotLogged(what) => json!({
            "verdict": null,
            "why_not": format!("{what}: not in the log"),
        }),
        Recomputed::NotApplicable(why) => json!({ "verdict": null, "why_not": why }),
    }
}

fn print_state(n: u64, s: &StateAt, format: ShowFormat, header: &str) -> CliResult {
    let note = (!s.complete).then(|| {
        format!(
            "the bundle starts at entry {}: inputs set before it are not known",
            s.start
        )
    });
    match format {
        ShowFormat::Csv => Err(CliError::new(
            "--state-at prints a table or JSON (--format table|json)",
        )),
        ShowFormat::Json => {
            let doc = json!({
                "state_at": n,
                "note": note,
                "entry": s.row,
                "recomputed": s.verdicts.as_ref().map(|(v, f, r)| recomputed_json((*v, f), r)),
                "policies": s.policies,
                "registry": s.registry,
                "rosters": s.rosters,
                "status_list": s.status_list,
            });
            outln!("{}", pretty(&doc));
            Ok(())
        }
        ShowFormat::Table => {
            outln!("{header}");
            outln!("State in force at entry {n} (after entries before it):");
            if let Some(note) = note {
                outln!("  note: {note}");
            }
            outln!("Policies:");
            for p in &s.policies {
                outln!(
                    "  {} (entry {}): {}",
                    text(&p["department"]),
                    p["set_at_entry"],
                    p.get("summary")
                        .or(p.get("error"))
                        .map_or(String::new(), text)
                );
            }
            outln!("Registry:");
            for o in &s.registry {
                outln!(
                    "  {} {} ({}, {}){}{} (entry {})",
                    text(&o["officer_id"]),
                    text(&o["name"]),
                    text(&o["department"]),
                    text(&o["email"]),
                    if o["entitled"] == true {
                        ", entitled"
                    } else {
                        ""
                    },
                    o["phone_model"]
                        .as_str()
                        .map(|m| format!(", phone {}", for_terminal(m)))
                        .unwrap_or_default(),
                    o["imported_at_entry"]
                );
            }
            outln!("Rosters:");
            for r in &s.rosters {
                let handles: Vec<String> = r["handles"]
                    .as_array()
                    .map(|a| a.iter().map(text).collect())
                    .unwrap_or_default();
                outln!(
                    "  {} {}/{} (entry {}): {}",
                    text(&r["department"]),
                    text(&r["platform"]),
                    text(&r["group"]),
                    r["set_at_entry"],
                    handles.join(", ")
                );
            }
            match &s.status_list {
                Some(l) => outln!(
                    "Status list: fetched {}, installed at entry {}, {} s old at entry {n}",
                    text(&l["fetched"]),
                    l["installed_at_entry"],
                    l["age_seconds"]
                ),
                None => outln!("Status list: none installed"),
            }
            outln!("Entry {n}:");
            out!("{}", table(&[&s.row]));
            if let Some((v, f, r)) = &s.verdicts {
                outln!("  logged:     {}", semantics::describe_verdict(*v, f));
                match r {
                    Recomputed::Verdict(rv, rf) => outln!(
                        "  recomputed: {}{}",
                        semantics::describe_verdict(*rv, rf),
                        if rv == v && rf == f {
                            " (equal)"
                        } else {
                            " (DIFFERS)"
                        }
                    ),
                    other => outln!(
                        "  recomputed: not possible: {}",
                        text(&recomputed_json((*v, f), other)["why_not"])
                    ),
                }
            }
            Ok(())
        }
    }
}

/// A logged value as table text, escaped: the log holds what devices and IT sent.
fn text(v: &Json) -> String {
    let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    for_terminal(&s).into_owned()
}

fn pretty(v: &Json) -> String {
    crate::out::pretty_json(v)
}

fn failures_text(f: &[Failure]) -> String {
    f.iter()
        .map(|f| format!("{} {}", f.rule.as_str(), f.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

fn table(rows: &[&Row]) -> String {
    // Every cell and line below holds logged text (from devices, the registry, IT):
    // escaped, so a terminal shows it and does not act on it.
    let esc = |s: &str| for_terminal(s).into_owned();
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.index.to_string(),
                esc(&r.time),
                esc(&r.kind),
                esc(r.officer.as_deref().unwrap_or_default()),
                esc(r.department.as_deref().unwrap_or_default()),
                esc(r.device.as_deref().unwrap_or_default()),
                r.seq.map(|s| s.to_string()).unwrap_or_default(),
                esc(r.verdict.as_deref().unwrap_or_default()),
            ]
        })
        .collect();
    let heads = [
        "index", "time", "kind", "officer", "dept", "device", "seq", "verdict",
    ];
    let mut widths = heads.map(str::len);
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        c.iter()
            .zip(widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(&heads.map(str::to_string));
    out.push('\n');
    for (r, c) in rows.iter().zip(&cells) {
        out.push_str(&line(c));
        out.push('\n');
        out.push_str(&format!("    {}\n", esc(&r.summary)));
        if !r.failures.is_empty() {
            out.push_str(&format!(
                "    failures: {}\n",
                esc(&failures_text(&r.failures))
            ));
        }
        if let Some(s) = &r.signature {
            out.push_str(&format!("    signature: {}\n", esc(s)));
        }
        for p in &r.problems {
            out.push_str(&format!("    PROBLEM: {}\n", esc(p)));
        }
    }
    out
}

fn report_lines(r: &semantics::Report) -> String {
    let mut out = format!(
        "replay: {} entries, {} attestations; {} verdicts recomputed, {} with inputs from before the range, {} with inputs not in the log; {} problem(s)",
        r.entries,
        r.attestations,
        r.verdicts_recomputed,
        r.verdicts_inputs_before_range,
        r.verdicts_inputs_not_logged,
        r.violations.len()
    );
    if !r.complete {
        out.push_str(" (the bundle does not start at entry 0: inputs set before it are not known)");
    }
    out
}

/// RFC 4180 field: quoted when it holds a comma, quote or line break; neutralized first
/// by [`csv_cell`] (a cell a spreadsheet would evaluate as a formula gets a leading `'`,
/// control and bidirectional characters are escaped).
fn csv_field(s: &str) -> String {
    let s = csv_cell(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

fn csv(rows: &[&Row]) -> String {
    let mut out = String::from(
        "index,time,kind,officer,department,device,seq,verdict,failures,summary,signature,problems\n",
    );
    for r in rows {
        let fields = [
            r.index.to_string(),
            r.time.clone(),
            r.kind.clone(),
            r.officer.clone().unwrap_or_default(),
            r.department.clone().unwrap_or_default(),
            r.device.clone().unwrap_or_default(),
            r.seq.map(|s| s.to_string()).unwrap_or_default(),
            r.verdict.clone().unwrap_or_default(),
            failures_text(&r.failures),
            r.summary.clone(),
            r.signature.clone().unwrap_or_default(),
            r.problems.join("; "),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pramaan_core::catalog::Catalog;
    use pramaan_core::keys::ServerKey;
    use pramaan_core::model::Officer;
    use pramaan_server::audit_log::{self, LogSigner};
    use pramaan_testkit::log_fixtures::DemoDevice;

    const T: u64 = 1_790_000_000;

    /// A log from entry 0: GAD's policy, registry and roster, one device, three honest
    /// attestations, then a duplicate of the second and a relabelled copy.
    fn bundle(dir: &Path) -> (Bundle, PathBuf, DemoDevice) {
        let mut conn = rusqlite::Connection::open_in_memory().expect("db");
        audit_log::init_schema(&conn).expect("schema");
        let d = DemoDevice::generate("GAD-001").expect("device");
        let policy = Policy::load(
            r#"
department = "GAD"
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "WhatsApp"
[[groups]]
platform = "WhatsApp"
id = "gad-officers"
[evidence]
assurance = "software"
platforms = ["desktop"]
"#,
            &Catalog::builtin(),
        )
        .expect("policy");
        let tx = conn.transaction().expect("tx");
        let push = |e: &LogEntry| audit_log::append(&tx, e).expect("append");
        push(&LogEntry::PolicyChange {
            at: T,
            department: "GAD".into(),
            policy_json: serde_json::to_string(&policy).expect("json"),
            by: "admin".into(),
        });
        push(&LogEntry::RegistryImport {
            at: T,
            officers: vec![Officer {
                officer_id: "GAD-001".into(),
                name: "A. Shah".into(),
                designation: String::new(),
                department: "GAD".into(),
                email: "a.shah@gujarat.gov.in".into(),
                mobile: String::new(),
                entitled: true,
                gr_reference: None,
                phone_model: None,
                phone_purchased: None,
                retired_at: None,
            }],
            by: "it".into(),
        });
        push(&LogEntry::RosterSet {
            at: T,
            department: "GAD".into(),
            platform: "WhatsApp".into(),
            group: "gad-officers".into(),
            handles: vec!["+919800000001".into()],
            by: "it".into(),
        });
        push(&d.enrollment(T).expect("enrollment"));
        let honest: Vec<LogEntry> = (1..=3)
            .map(|seq| d.attestation(T + seq, seq).expect("attestation"))
            .collect();
        for e in &honest {
            push(e);
        }
        push(&honest[1]);
        let mut relabelled = d.attestation(T + 9, 3).expect("attestation");
        if let LogEntry::Attestation {
            officer_id,
            department,
            ..
        } = &mut relabelled
        {
            *officer_id = "REV-001".into();
            *department = "REV".into();
        }
        push(&relabelled);
        tx.commit().expect("commit");
        let signer = LogSigner::new("pramaan.test/log".into(), ServerKey::generate().expect("k"));
        let b =
            audit_log::build_bundle_from_db(&conn, &signer, &Default::default()).expect("build");
        let key = dir.join("log.vkey");
        std::fs::write(&key, format!("{}\n", signer.verifier_key())).expect("write");
        (b, key, d)
    }

    #[test]
    fn csv_fields_are_quoted_and_neutralized() {
        assert_eq!(csv_field("GAD-001"), "GAD-001");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+91 98"), "'+91 98");
        assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("a\u{1b}[2J\nb"), "a\\u{001B}[2J\\u{000A}b");
    }

    #[test]
    fn entries_are_decoded_signatures_checked_and_forgeries_named() {
        let dir = tempfile::tempdir().expect("dir");
        let (b, _, d) = bundle(dir.path());
        let shown = Shown::build(&b, None, &Filter::default());
        assert_eq!(shown.rows.len(), 9);
        let kinds: Vec<&str> = shown.rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(
            kinds[..5],
            [
                "policy_change",
                "registry_import",
                "roster_set",
                "enrollment",
                "attestation"
            ]
        );
        let enrollment = &shown.rows[3];
        assert_eq!(enrollment.signature.as_deref(), Some("verified"));
        assert!(
            enrollment.summary.contains("platform desktop"),
            "{}",
            enrollment.summary
        );
        let first = &shown.rows[4];
        assert_eq!(first.signature.as_deref(), Some("verified"));
        assert_eq!(first.seq, Some(1));
        assert_eq!(
            first.device.as_deref(),
            Some(d.device_id.to_string().as_str())
        );
        assert_eq!(first.time, "2026-09-21T14:13:21Z");
        assert!(
            first
                .summary
                .contains("groups WhatsApp/gad-officers as +919800000001"),
            "{}",
            first.summary
        );
        for r in &shown.rows[..7] {
            assert!(r.problems.is_empty(), "entry {}: {:?}", r.index, r.problems);
        }
        assert_eq!(shown.report.verdicts_recomputed, 5);
        // The duplicate names the entry it copies; the relabelled copy names the device's
        // enrollment. Both still carry valid device signatures.
        let dup = &shown.rows[7];
        assert_eq!(dup.signature.as_deref(), Some("verified"));
        assert!(
            dup.problems
                .iter()
                .any(|p| p.contains("the same token was already logged at entry 5")),
            "{:?}",
            dup.problems
        );
        let relabelled = &shown.rows[8];
        assert!(
            relabelled
                .problems
                .iter()
                .any(|p| p.contains("enrolled at entry 3 for officer GAD-001")),
            "{:?}",
            relabelled.problems
        );
        let t = table(&shown.rows.iter().collect::<Vec<_>>());
        assert!(
            t.contains("PROBLEM: the same token was already logged at entry 5"),
            "{t}"
        );
        let c = csv(&shown.rows.iter().collect::<Vec<_>>());
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 10);
        assert!(lines[0].starts_with("index,time,kind,officer,department,device,seq,verdict"));
        assert!(lines[5].starts_with("4,2026-09-21T14:13:21Z,attestation,GAD-001,GAD,"));

        // Filters select rows; the replay still runs over every entry.
        let only = |f: Filter| -> Vec<u64> {
            Shown::build(&b, None, &f)
                .rows
                .iter()
                .map(|r| r.index)
                .collect()
        };
        let rev = Filter {
            officer: Some("REV-001".into()),
            ..Filter::default()
        };
        assert_eq!(only(rev), [8]);
        let shown = Shown::build(
            &b,
            None,
            &Filter {
                index: Some(7),
                ..Filter::default()
            },
        );
        assert_eq!(shown.rows.len(), 1);
        assert_eq!(shown.rows[0].problems.len(), 2);
        let gad = Filter {
            officer: Some("GAD-001".into()),
            ..Filter::default()
        };
        assert_eq!(only(gad), [1, 3, 4, 5, 6, 7]);
        let window = Filter {
            device: Some(d.device_id),
            from: Some(T + 2),
            to: Some(T + 3),
            ..Filter::default()
        };
        assert_eq!(only(window), [5, 6, 7]);
    }

    #[test]
    fn state_at_shows_the_inputs_in_force_and_the_recomputed_verdict() {
        let dir = tempfile::tempdir().expect("dir");
        let (b, key, _) = bundle(dir.path());
        let shown = Shown::build(&b, Some(4), &Filter::default());
        let s = shown.state.expect("state");
        assert_eq!(s.registry.len(), 1);
        assert_eq!(s.registry[0]["officer_id"], "GAD-001");
        assert_eq!(s.rosters[0]["handles"][0], "+919800000001");
        assert_eq!(s.policies[0]["department"], "GAD");
        let (logged, _, recomputed) = s.verdicts.expect("an attestation");
        assert_eq!(logged, Verdict::Affirming);
        assert_eq!(
            recomputed,
            Recomputed::Verdict(Verdict::Affirming, Vec::new())
        );

        // Through the command: verified with the log key first; a wrong key refuses.
        let file = dir.path().join("b.cbor");
        std::fs::write(&file, b.to_bytes()).expect("write");
        let args = |log_key: Option<PathBuf>, state_at: Option<u64>, format| ShowArgs {
            file: file.clone(),
            log_key,
            index: None,
            officer: Some("GAD-001".into()),
            device: None,
            from: Some("2026-09-21T14:13:21Z".into()),
            to: Some(format!("{}", T + 3)),
            format,
            state_at,
        };
        run(args(Some(key.clone()), None, ShowFormat::Json)).expect("shows");
        run(args(Some(key), Some(4), ShowFormat::Table)).expect("state");
        let err = run(args(None, Some(99), ShowFormat::Table)).expect_err("out of range");
        assert!(err.0.contains("holds entries [0, 9)"), "{}", err.0);
        let other = LogSigner::new("pramaan.test/log".into(), ServerKey::generate().expect("k"));
        let wrong = dir.path().join("wrong.vkey");
        std::fs::write(&wrong, other.verifier_key()).expect("write");
        let err = run(args(Some(wrong), None, ShowFormat::Csv)).expect_err("wrong key");
        assert!(err.0.contains("NOT VERIFIED"), "{}", err.0);
        let err = parse_time("yesterday").expect_err("bad time");
        assert!(err.0.contains("RFC 3339"), "{}", err.0);
    }

    /// An answer-key rotation is listed with both keys and whether its endorsement
    /// verifies under the old key.
    #[test]
    fn answer_key_rotations_are_listed_with_their_endorsement_checked() {
        use pramaan_core::agent::answer_keys::endorse;
        let old = ServerKey::generate().expect("key");
        let new = ServerKey::generate().expect("key");
        let other = ServerKey::generate().expect("key");
        let entry = |signer: &ServerKey| LogEntry::AnswerKeyRotated {
            at: T,
            old_key: old.public_key().to_vec(),
            new_key: new.public_key().to_vec(),
            endorsement: endorse(signer, &new.public_key(), T),
            by: "admin-cli".into(),
        };
        let replay = Replay::new(true);
        let r = row(7, &entry(&old), &replay);
        assert_eq!(r.kind, "answer_key_rotated");
        assert!(
            r.summary.contains(&hex::encode(old.public_key())),
            "{}",
            r.summary
        );
        assert!(
            r.summary.contains(&hex::encode(new.public_key())),
            "{}",
            r.summary
        );
        assert!(r.summary.ends_with("endorsement verified"), "{}", r.summary);
        let forged = row(7, &entry(&other), &replay);
        assert!(
            forged.summary.contains("endorsement not verified"),
            "{}",
            forged.summary
        );
    }
}
