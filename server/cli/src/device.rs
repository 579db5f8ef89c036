//! `pramaan device enroll|attest|status`: the desktop agent (design section 9).
//!
//! The same core agent as on the phone, with a software P-256 key in `STATE/device.key`
//! (mode 0600, written only when an enrollment succeeds) and facts from a TOML file
//! instead of the platform layer. It exists so that the whole protocol can be exercised
//! from a shell and a CI job. It speaks the officer's words (compliant, warning,
//! noncompliant, revoked) with a next step under every failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use pramaan_core::agent::{Agent, AgentStatus, CheckIn, Facts, LocalEvaluation};
use pramaan_core::claims::{AttestResult, Failure, Verdict};
use pramaan_core::keys::KeyFile;
use pramaan_core::policy::ComplianceStatus;
use pramaan_core::text::for_terminal;

use super::{CliError, CliResult};

/// File name of the software device key inside the state directory.
pub const KEY_FILE: &str = "device.key";

/// `pramaan device enroll|attest|status`.
#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Enroll this desktop agent with an enrollment URI from IT.
    Enroll(EnrollArgs),
    /// Sign and send one attestation (queued if the server is unreachable).
    Attest(AttestArgs),
    /// Show enrollment, last result and queued attestations.
    Status(StatusArgs),
}

/// `pramaan device enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// `pramaan://enroll?...`
    pub uri: String,
    /// Agent state directory (created if missing).
    #[arg(long)]
    pub state: PathBuf,
    /// Facts file (TOML, design section 9).
    #[arg(long)]
    pub facts: PathBuf,
}

/// `pramaan device attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Agent state directory given at enrollment (holds the device key).
    #[arg(long)]
    pub state: PathBuf,
    /// Facts file (TOML, design section 9): what this check-in reports.
    #[arg(long)]
    pub facts: PathBuf,
    /// Also write the signed attestation (COSE_Sign1) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `pramaan device status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Agent state directory given at enrollment.
    #[arg(long)]
    pub state: PathBuf,
    /// Print the status as text or as JSON.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How `pramaan device attest` and `status` print (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable lines.
    Text,
    /// One JSON object, for scripts.
    Json,
}

/// An agent's error for the terminal: it may quote the server (a refusal's message, IT's
/// revocation reason), so control and bidi characters are escaped.
fn err(e: impl std::fmt::Display) -> CliError {
    CliError::new(for_terminal(&e.to_string()))
}

/// Opens the agent on `state`. Nothing is written: the directory, `device.key` and the
/// state appear only when an enrollment succeeds ([`KeyFile`]).
fn open_agent(state: &Path) -> Result<Agent, CliError> {
    let signer = KeyFile::open(&state.join(KEY_FILE)).map_err(err)?;
    Agent::open(state, Arc::new(signer)).map_err(err)
}

fn read_facts(path: &Path) -> Result<Facts, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(format!("facts file {}: {e}", path.display())))?;
    Facts::from_toml(&text).map_err(|e| {
        CliError::new(format!(
            "{}: {}",
            path.display(),
            for_terminal(&e.to_string())
        ))
    })
}

/// Runs one `device` command.
pub fn run(cmd: DeviceCmd) -> CliResult {
    match cmd {
        DeviceCmd::Enroll(a) => {
            let facts = read_facts(&a.facts)?;
            let agent = open_agent(&a.state)?;
            let e = agent.enroll(&a.uri, &facts, None).map_err(err)?;
            outln!(
                "enrolled: device {} officer {} department {} assurance {}",
                e.device_id,
                for_terminal(&e.officer_id),
                for_terminal(&e.department),
                e.assurance.as_str()
            );
            Ok(())
        }
        DeviceCmd::Attest(a) => {
            let facts = read_facts(&a.facts)?;
            let agent = open_agent(&a.state)?;
            let outcome = agent.check_in(&facts).map_err(err)?;
            let status = agent.status().map_err(err)?;
            if let Some(out) = &a.out {
                std::fs::write(out, outcome.token())
                    .map_err(|e| CliError::new(format!("{}: {e}", out.display())))?;
            }
            match a.format {
                Format::Json => outln!(
                    "{}",
                    crate::out::pretty_json(&check_in_json(&outcome, &status))
                ),
                Format::Text => print_check_in(&outcome, &status),
            }
            Ok(())
        }
        DeviceCmd::Status(a) => {
            let agent = open_agent(&a.state)?;
            let s = agent.status().map_err(err)?;
            match a.format {
                Format::Json => outln!("{}", crate::out::pretty_json(&status_json(&s))),
                Format::Text => print_status(&s),
            }
            Ok(())
        }
    }
}

/// The officer's word for a verdict (`compliant`, `warning`, `noncompliant`).
fn word(v: Verdict) -> &'static str {
    ComplianceStatus::from(v).as_str()
}

fn failures_json(f: &[Failure], s: &AgentStatus) -> serde_json::Value {
    f.iter()
        .map(|f| serde_json::json!({"rule": f.rule.as_str(), "detail": f.detail, "hint": s.remedy(f)}))
        .collect()
}

fn result_json(r: &AttestResult, s: &AgentStatus) -> serde_json::Value {
    serde_json::json!({
        "device_id": r.device_id.to_string(),
        "seq": r.seq,
        "status": word(r.status),
        "failures": failures_json(&r.failures, s),
        "log_index": r.log_index,
        "iat": r.iat,
    })
}

fn local_json(l: &LocalEvaluation, s: &AgentStatus) -> serde_json::Value {
    serde_json::json!({
        "seq": l.seq,
        "at": l.at,
        "status": word(l.verdict),
        "failures": failures_json(&l.failures, s),
    })
}

fn check_in_json(c: &CheckIn, s: &AgentStatus) -> serde_json::Value {
    match c {
        CheckIn::Delivered {
            seq,
            result,
            local,
            flushed,
            ..
        } => serde_json::json!({
            "delivered": true,
            "seq": seq,
            "result": result_json(result, s),
            "local": local_json(local, s),
            "flushed": flushed,
        }),
        CheckIn::Queued {
            seq,
            pending,
            local,
            ..
        } => serde_json::json!({
            "delivered": false,
            "seq": seq,
            "pending": pending,
            "local": local_json(local, s),
        }),
    }
}

fn status_json(s: &AgentStatus) -> serde_json::Value {
    serde_json::json!({
        "enrolled": s.enrolled,
        "status": s.word(),
        "hint": s.hint(),
        "revoked": s.revoked.as_ref().map(|r| serde_json::json!({"at": r.at, "reason": r.reason})),
        "device_id": s.device_id.map(|d| d.to_string()),
        "officer_id": s.officer_id,
        "department": s.department,
        "server": s.server,
        "assurance": s.assurance.map(|a| a.as_str()),
        "last_seq": s.last_seq,
        "last_result": s.last_result.as_ref().map(|r| result_json(r, s)),
        "last_local": s.last_local.as_ref().map(|l| local_json(l, s)),
        "pending": s.pending,
        "dropped": s.dropped,
    })
}

fn print_failures(f: &[Failure], s: &AgentStatus) {
    for f in f {
        outln!("  {}: {}", f.rule.as_str(), for_terminal(&f.detail));
        outln!("      what to do: {}", for_terminal(&s.remedy(f)));
    }
}

fn print_check_in(c: &CheckIn, s: &AgentStatus) {
    match c {
        CheckIn::Delivered {
            seq,
            result,
            flushed,
            ..
        } => {
            if *flushed > 0 {
                outln!("delivered {flushed} queued attestation(s) first");
            }
            outln!(
                "attestation {seq}: {} (log index {})",
                word(result.status),
                result.log_index
            );
            print_failures(&result.failures, s);
        }
        CheckIn::Queued {
            seq,
            pending,
            local,
            ..
        } => {
            outln!(
                "server unreachable: attestation {seq} queued ({pending} waiting); on this device: {}",
                word(local.verdict)
            );
            print_failures(&local.failures, s);
        }
    }
}

fn print_status(s: &AgentStatus) {
    if !s.enrolled {
        outln!("not enrolled ({} queued)", s.pending);
        if let Some(hint) = s.hint() {
            outln!("what to do: {hint}");
        }
        return;
    }
    outln!(
        "device {} officer {} department {} server {}",
        s.device_id.map(|d| d.to_string()).unwrap_or_default(),
        for_terminal(s.officer_id.as_deref().unwrap_or_default()),
        for_terminal(s.department.as_deref().unwrap_or_default()),
        for_terminal(s.server.as_deref().unwrap_or_default())
    );
    if let Some(r) = &s.revoked {
        outln!(
            "revoked by department IT{}",
            r.reason
                .as_deref()
                .map(|reason| format!(": {}", for_terminal(reason)))
                .unwrap_or_default()
        );
        if let Some(hint) = s.hint() {
            outln!("what to do: {hint}");
        }
    }
    outln!("last seq {}, {} queued", s.last_seq, s.pending);
    match &s.last_result {
        Some(r) => {
            outln!("last result: seq {} {}", r.seq, word(r.status));
            print_failures(&r.failures, s);
        }
        None => outln!("no result from the server yet"),
    }
    if let Some(l) = &s.last_local {
        outln!("last local evaluation: seq {} {}", l.seq, word(l.verdict));
        print_failures(&l.failures, s);
    }
}
