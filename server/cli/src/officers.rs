//! `pramaan officers import|retire|move`: the department's registry of officers;
//! `pramaan officers show ID`: one officer's registry row, status and devices.
//!
//! The registry decides who is entitled to a GR-funded phone (rule R2), so an upload with
//! a bad row must say exactly which row and why. An import is all or nothing: one rejected
//! row and nothing is written (the server answers `422 rows_rejected` with every row
//! error, printed here as `line N: field: reason`); `--partial` writes the good rows;
//! `--dry-run` only reports what would happen. Every mode prints the counts (added,
//! updated, unchanged, moved, reinstated, rejected) and the warnings (an email off the
//! department policy's domains).
//!
//! A large file takes the server a while: the client waits longer the larger the upload,
//! prints the upload's size and, at the end, the time it took, and never sends the file
//! twice. When no answer comes in time, the server may still be importing: the message
//! says how to find out instead of trying again.
//!
//! Exit status: non-zero when rows were rejected (unless `--allow-rejected` with
//! `--partial`) or the import was refused.
//!
//! `show` answers IT's "what is wrong with this officer's phone, and what do I do": the
//! registry row, the status with its failures and a hint naming the command that helps,
//! then every device (revoked ones too) with platform, model, assurance, enrollment, last
//! check-in, evidence age and its recent results. Every string that came from a device or
//! the registry is printed through `pramaan_core::text::for_terminal` (a model name with
//! an escape sequence shows as `\u{001B}...`, it cannot clear the screen); times are
//! RFC 3339 UTC.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Subcommand, ValueEnum};
use pramaan_core::api::{ImportReport, OfficerDevice, OfficerStatus, OfficerView};
use pramaan_core::policy::{ComplianceStatus, RowError};
use pramaan_core::text::for_terminal;
use pramaan_core::times::{age_days, now, rfc3339};
use serde_json::{Value, json};

use super::client::{ServerArgs, encode, read_file, refusal, typed};
use super::{CliError, CliResult};

/// What IT does about an officer in `status` (with `active` unrevoked devices).
pub fn hint(officer_id: &str, status: &OfficerStatus) -> Vec<String> {
    let id = for_terminal(officer_id);
    let mut out = vec![
        match status.status {
            ComplianceStatus::Compliant => "nothing to do".to_string(),
            ComplianceStatus::Warning => {
                "not urgent: go through the warnings above with the officer".to_string()
            }
            ComplianceStatus::Noncompliant => {
                "ask the officer to fix the failures above; the phone's next check-in shows the result"
                    .to_string()
            }
            ComplianceStatus::Stale => {
                "ask the officer to open Pramaan on the phone with a network connection (no recent check-in)"
                    .to_string()
            }
            ComplianceStatus::NotEnrolled => format!(
                "give the officer an enrollment QR code: pramaan enroll-token --officer {id}"
            ),
            ComplianceStatus::Revoked => format!(
                "enroll the official phone again: pramaan enroll-token --officer {id}"
            ),
            ComplianceStatus::NotEntitled => {
                "nothing expected: not entitled to the GR-funded phone".to_string()
            }
        },
    ];
    if status.active_devices > 1 {
        out.push(format!(
            "{} active devices: revoke any the officer no longer uses with pramaan devices revoke DEVICE_ID --reason TEXT",
            status.active_devices
        ));
    }
    out
}

/// An optional time as RFC 3339, or `-`.
fn when(t: Option<u64>) -> String {
    t.map(rfc3339).unwrap_or_else(|| "-".into())
}

/// The officer view as readable text (registry, status, devices), at `now`.
pub fn render_officer(view: &OfficerView, now: u64) -> String {
    let o = &view.officer;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "Officer {}  {}",
        for_terminal(&o.officer_id),
        for_terminal(&o.name)
    ));
    let mut fields = vec![
        ("designation", o.designation.clone()),
        ("department", o.department.clone()),
        ("email", o.email.clone()),
        ("mobile", o.mobile.clone()),
        (
            "entitled",
            if o.entitled { "yes" } else { "no" }.to_string(),
        ),
    ];
    for (name, value) in [
        ("gr_reference", &o.gr_reference),
        ("phone_model", &o.phone_model),
        ("phone_purchased", &o.phone_purchased),
    ] {
        if let Some(v) = value {
            fields.push((name, v.clone()));
        }
    }
    for (name, value) in fields {
        line(format!("  {name:<16}{}", for_terminal(&value)));
    }
    match &view.compliance {
        None => line("Status: unknown (the department has no policy yet)".into()),
        Some(s) => {
            line(format!(
                "Status: {}   last seen {}   active devices {}",
                s.status,
                when(s.last_seen),
                s.active_devices
            ));
            if let Some(id) = s.device_id {
                line(format!("  rests on device {id}"));
            }
            for f in &s.failures {
                line(format!(
                    "  {}: {}",
                    f.rule.as_str(),
                    for_terminal(&f.detail)
                ));
            }
            for h in hint(&o.officer_id, s) {
                line(format!("  What to do: {h}"));
            }
        }
    }
    line(format!("Devices ({}):", view.devices.len()));
    for d in &view.devices {
        for l in device_lines(d, now) {
            line(l);
        }
    }
    out
}

/// One device of the officer view: a header, its dates, its evidence and recent results.
fn device_lines(d: &OfficerDevice, now: u64) -> Vec<String> {
    let state = if d.revoked {
        format!(
            "REVOKED: {}",
            for_terminal(d.reason.as_deref().unwrap_or("no reason given"))
        )
    } else {
        "active".to_string()
    };
    let mut model = for_terminal(&d.model).into_owned();
    if let Some(a) = d.attested_model.as_deref().filter(|a| *a != d.model) {
        model.push_str(&format!(" (attested {})", for_terminal(a)));
    }
    let mut out = vec![
        format!(
            "  {}  {} {}  {}  {state}",
            d.device_id,
            d.platform,
            model,
            d.assurance.as_str()
        ),
        format!(
            "    enrolled {}   last check-in {}   evidence checked {} ({} d ago)",
            rfc3339(d.enrolled_at),
            when(d.last_check_in),
            rfc3339(d.evidence.checked_at),
            age_days(d.evidence.checked_at, now)
        ),
        format!(
            "    evidence: {}",
            for_terminal(&pramaan_core::policy::describe_evidence(&d.evidence))
        ),
    ];
    if d.recent.is_empty() {
        out.push("    no check-in yet".into());
    } else {
        out.push("    recent results (newest first):".into());
    }
    for r in &d.recent {
        let failures = r
            .failures
            .iter()
            .map(|f| format!("{}: {}", f.rule.as_str(), for_terminal(&f.detail)))
            .collect::<Vec<_>>()
            .join("; ");
        out.push(
            format!(
                "      seq {:<6} {}  {:<15} log {:<8} {:<7}  {}",
                r.seq,
                rfc3339(r.received_at),
                r.verdict.as_str(),
                r.log_index,
                if r.fresh_nonce { "online" } else { "offline" },
                failures
            )
            .trim_end()
            .to_string(),
        );
    }
    out
}

/// `pramaan officers import|retire|move|show`.
#[derive(Debug, Subcommand)]
pub enum OfficersCmd {
    /// Show one officer: the registry row, the compliance status with the failing rules
    /// and what to do, and every device with its recent results.
    Show {
        /// The officer's registry id.
        id: String,
        /// Output: readable text, or the server's JSON.
        #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
        format: ShowFormat,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Upload a registry CSV (upsert by officer_id). Columns:
    /// officer_id,name,designation,department,email,mobile,entitled
    /// [,gr_reference,phone_model,phone_purchased]. All or nothing: with a rejected row
    /// nothing is imported (every rejected row is listed as "line N: field: reason").
    Import {
        /// The registry CSV file (UTF-8, with the header row).
        file: PathBuf,
        /// Import the good rows even when some are rejected (they are listed on stderr).
        #[arg(long)]
        partial: bool,
        /// Only check the file against the registry: report what would be added, updated,
        /// unchanged, moved and reinstated, and the rejected rows; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --partial: exit 0 even when some rows were rejected.
        #[arg(long)]
        allow_rejected: bool,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Retire an officer: the officer leaves the compliance report, the officer's active
    /// devices are revoked with the reason and outstanding enrollment tokens cancelled.
    /// Importing the officer's row again reinstates the officer.
    Retire {
        /// The officer id.
        officer_id: String,
        /// Why (kept in the audit log and as the devices' revocation reason).
        #[arg(long)]
        reason: String,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Move an officer to another department (admin token). The officer's devices follow:
    /// the new department's IT can revoke them, the old one no longer can. Outstanding
    /// enrollment tokens are cancelled.
    Move {
        /// The officer id.
        officer_id: String,
        /// The department the officer joins (it must have a policy).
        #[arg(long, value_name = "DEPT")]
        to: String,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// While a long import runs and stderr is a terminal: `  12 s, waiting for the server`
/// every 5 s on stderr, rewritten in place; stopped (and the line cleared) when dropped.
struct Progress(Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>);

impl Progress {
    fn start(started: Instant) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut shown = false;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let secs = started.elapsed().as_secs();
                if secs >= 5 && secs % 5 == 0 {
                    eprint!("\r  {secs} s, waiting for the server");
                    shown = true;
                    std::thread::sleep(Duration::from_millis(800));
                }
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        Self(Some((stop, handle)))
    }

    /// Tells the ticker to stop (the caller is about to print).
    fn stop(&self) {
        if let Some((stop, _)) = &self.0 {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.0.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

/// How long to wait for the answer to an upload of `bytes`: 30 s and one more second per
/// 64 KiB (a 100,000-row registry of about 11 MB: about 3 minutes), since the server
/// answers only when every row is checked and written.
pub fn upload_timeout(bytes: usize) -> Duration {
    Duration::from_secs(30 + (bytes / (64 * 1024)) as u64)
}

/// `12.3 MB` / `850 kB` / `512 bytes`.
fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.0} kB", b as f64 / 1e3),
        b => format!("{b} bytes"),
    }
}

/// The counts line of a report.
pub fn counts_text(r: &ImportReport) -> String {
    format!(
        "{} added, {} updated, {} unchanged, {} moved, {} reinstated, {} rejected",
        r.added,
        r.updated,
        r.unchanged,
        r.moved,
        r.reinstated,
        r.rejected.len()
    )
}

fn print_rejections(rejected: &[RowError]) {
    for e in rejected {
        let field = e
            .field
            .as_deref()
            .map(|f| format!("{f}: "))
            .unwrap_or_default();
        // Line 0: refused for the whole file's scope (e.g. another department's officer),
        // the reason names the officer.
        if e.line == 0 {
            eprintln!("rejected: {field}{}", e.reason);
        } else {
            eprintln!("line {}: {field}{}", e.line, e.reason);
        }
    }
}

/// How `pramaan officers show` prints (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// Readable text.
    Table,
    /// The server's JSON answer, pretty-printed.
    Json,
}

/// Runs one `officers` command.
pub fn run(cmd: OfficersCmd) -> CliResult {
    match cmd {
        OfficersCmd::Show { id, format, server } => {
            let client = server.client()?;
            let path = format!("/v1/officers/{}", encode(id.trim()));
            let v = client.get_json(&path)?;
            match format {
                ShowFormat::Json => crate::out::json(&v)?,
                ShowFormat::Table => {
                    let view: OfficerView = typed(&path, v)?;
                    out!("{}", render_officer(&view, now()));
                }
            }
            Ok(())
        }
        OfficersCmd::Import {
            file,
            partial,
            dry_run,
            allow_rejected,
            server,
        } => import(&file, partial, dry_run, allow_rejected, &server),
        OfficersCmd::Retire {
            officer_id,
            reason,
            server,
        } => {
            let client = server.client()?;
            let path = format!("/v1/officers/{}/retire", encode(&officer_id));
            let v = client.post_json(&path, &json!({ "reason": reason }))?;
            let devices = v["devices_revoked"].as_array().map_or(0, Vec::len);
            outln!(
                "officer {officer_id} retired: {devices} device(s) revoked, {} enrollment token(s) cancelled (log entry {})",
                v["enrollment_tokens_cancelled"].as_u64().unwrap_or(0),
                v["log_index"]
            );
            Ok(())
        }
        OfficersCmd::Move {
            officer_id,
            to,
            server,
        } => {
            let client = server.client()?;
            let path = format!("/v1/officers/{}/move", encode(&officer_id));
            let v = client.post_json(&path, &json!({ "department": to }))?;
            let devices = v["devices"].as_array().map_or(0, Vec::len);
            outln!(
                "officer {officer_id} moved from {} to {to}: {devices} device(s) follow, {} enrollment token(s) cancelled (log entry {})",
                v["from"].as_str().unwrap_or("?"),
                v["enrollment_tokens_cancelled"].as_u64().unwrap_or(0),
                v["log_index"]
            );
            Ok(())
        }
    }
}

fn import(
    file: &std::path::Path,
    partial: bool,
    dry_run: bool,
    allow_rejected: bool,
    server: &ServerArgs,
) -> CliResult {
    let body = read_file(file)?;
    let wait = upload_timeout(body.len());
    let client = server.client_waiting(wait)?;
    let mut query = Vec::new();
    if partial {
        query.push("partial=true");
    }
    if dry_run {
        query.push("dry_run=true");
    }
    let path = if query.is_empty() {
        "/v1/officers/import".to_string()
    } else {
        format!("/v1/officers/import?{}", query.join("&"))
    };
    eprintln!(
        "uploading {} ({}){}; waiting up to {} s for the answer",
        file.display(),
        size_text(body.len()),
        if dry_run { " for a dry run" } else { "" },
        wait.as_secs()
    );
    let started = Instant::now();
    let ticker = Progress::start(started);
    let resp = client
        .send_raw("POST", &path, "text/csv", &body)
        .map_err(|e| {
            ticker.stop();
            if e.is_timeout() {
                CliError::new(format!(
                    "no answer from {} within {} s: the server may still be importing {}. \
                     It was sent once and is not sent again. Check before retrying: \
                     `pramaan officers import --dry-run {}` reports the rows already \
                     stored as unchanged, and `pramaan audit pull` shows a registry_import \
                     entry once the import is committed",
                    client.server(),
                    wait.as_secs(),
                    file.display(),
                    file.display()
                ))
            } else {
                client.unreachable(e)
            }
        })?;
    drop(ticker);
    let elapsed = started.elapsed();
    let refused = resp.status == 422;
    if !resp.is_success() && !refused {
        return Err(CliError::new(refusal(&resp)));
    }
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|e| CliError::new(format!("the answer to {path} is not JSON: {e}")))?;
    let report: ImportReport = typed(&path, v)?;
    let verb = if dry_run {
        "dry run (nothing written)"
    } else if refused {
        "refused (nothing written)"
    } else {
        "imported"
    };
    outln!(
        "{verb}: {} of {} in {:.1} s: {}",
        if dry_run || refused {
            "would change"
        } else {
            "wrote"
        },
        file.display(),
        elapsed.as_secs_f64(),
        counts_text(&report)
    );
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    print_rejections(&report.rejected);
    if report.rejected.is_empty() || (partial && allow_rejected && !dry_run) {
        return Ok(());
    }
    let what = if refused {
        "nothing was imported (all or nothing); fix them, or import the good rows with --partial"
    } else if dry_run {
        "a real import would be refused unless --partial"
    } else if report.imported == 0 {
        "nothing was imported"
    } else {
        "the other rows were saved"
    };
    Err(CliError::new(format!(
        "{} row(s) of {} rejected (listed above; {what})",
        report.rejected.len(),
        file.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An officer view whose registry and device strings carry escape sequences and a
    /// bidi override, two active devices.
    fn hostile_view() -> OfficerView {
        let device = |id: &str, model: &str| {
            json!({"device_id": id, "platform": "android", "model": model,
                   "attested_model": null, "assurance": "hardware",
                   "evidence": {"kind": "none", "verified": false, "checked_at": 86_400},
                   "evidence_age_days": 1, "last_fresh_at": null, "offline_run": 0,
                   "public_key": "", "revoked": false, "reason": null, "enrolled_at": 0,
                   "last_seq": 2, "last_check_in": 172_800, "latest": null,
                   "recent": [{"seq": 2, "received_at": 172_800, "verdict": "warning",
                               "failures": [{"rule": "R5", "detail": "no lock\u{1b}[2J"}],
                               "log_index": 9, "fresh_nonce": false}]})
        };
        serde_json::from_value(json!({
            "officer": {"officer_id": "GAD-001", "name": "A. Shah\u{1b}[2J\u{1b}[Hcompliant",
                        "designation": "DS", "department": "GAD",
                        "email": "a@\u{202e}ni.vog.tarajug", "mobile": "", "entitled": true},
            "devices": [device("00000000-0000-0000-0000-000000000001", "Pixel\u{1b}]0;x\u{7}"),
                        device("00000000-0000-0000-0000-000000000002", "Pixel 8")],
            "compliance": {"status": "warning", "failures": [], "evidence": [],
                           "device_id": "00000000-0000-0000-0000-000000000002",
                           "last_seen": 172_800, "platform": "android", "assurance": "hardware",
                           "device_evidence": null, "evidence_at": 86_400, "active_devices": 2}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn officer_view_escapes_what_devices_and_the_registry_said() {
        let text = render_officer(&hostile_view(), 3 * 86_400);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(
            text.contains("A. Shah\\u{001B}[2J\\u{001B}[Hcompliant"),
            "{text}"
        );
        assert!(text.contains("a@\\u{202E}ni.vog.tarajug"), "{text}");
        assert!(text.contains("Pixel\\u{001B}]0;x\\u{0007}"), "{text}");
        assert!(text.contains("R5: no lock\\u{001B}[2J"), "{text}");
        // Times RFC 3339 UTC; the second active device flagged with what to do.
        assert!(text.contains("last seen 1970-01-03T00:00:00Z"), "{text}");
        assert!(
            text.contains("evidence checked 1970-01-02T00:00:00Z (2 d ago)"),
            "{text}"
        );
        assert!(text.contains("offline"), "{text}");
        assert!(
            text.contains("What to do: 2 active devices: revoke any the officer no longer uses"),
            "{text}"
        );
    }

    #[test]
    fn report_reads_count_and_rejections() {
        let v = json!({"imported": 3, "rejected": [{"line": 4, "field": "entitled", "reason": "entitled must be true or false"}], "added": 2, "updated": 1});
        let r: Result<ImportReport, String> =
            typed("/v1/officers/import", v).map_err(|e| e.to_string());
        let r = r.expect("report");
        assert_eq!((r.imported, r.added, r.updated, r.unchanged), (3, 2, 1, 0));
        assert_eq!(r.rejected[0].field.as_deref(), Some("entitled"));
        assert_eq!(
            counts_text(&r),
            "2 added, 1 updated, 0 unchanged, 0 moved, 0 reinstated, 1 rejected"
        );
        // The answer is the server's type: another shape is refused, not guessed at.
        assert!(typed::<ImportReport>("/v1/officers/import", json!({"upserted": 2})).is_err());
        assert!(typed::<ImportReport>("/v1/officers/import", json!({"ok": true})).is_err());
    }

    #[test]
    fn the_wait_grows_with_the_upload() {
        assert_eq!(upload_timeout(0), Duration::from_secs(30));
        assert_eq!(upload_timeout(11_000_000), Duration::from_secs(30 + 167));
        assert_eq!(size_text(11_000_000), "11.0 MB");
        assert_eq!(size_text(2_500), "2 kB");
    }
}
