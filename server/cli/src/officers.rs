//! `pramaan officers import FILE.csv`: upload the department's registry of officers;
//! `pramaan officers show ID`: one officer's registry row, status and devices.
//!
//! The registry decides who is entitled to a GR-funded phone (rule R2), so an upload with
//! a bad row must say exactly which row and why: the server upserts the good rows and
//! reports each rejected one; this command prints the count and every rejection as
//! `line N: reason` (N is the line in the file, header = line 1).
//!
//! Exit status: a partial import is reported as a failure (non-zero) so a script notices,
//! although the accepted rows are saved; `--allow-rejected` makes it exit 0 in that case.
//! Nothing is checked locally first: the server runs the same core parser and is the one
//! authority on what was stored.
//!
//! `show` answers IT's "what is wrong with this officer's phone, and what do I do": the
//! registry row, the status with its failures and a hint naming the command that helps,
//! then every device (revoked ones too) with platform, model, assurance, enrollment, last
//! check-in, evidence age and its recent results. Every string that came from a device or
//! the registry is printed through `pramaan_core::text::for_terminal` (a model name with
//! an escape sequence shows as `\u{001B}...`, it cannot clear the screen); times are
//! RFC 3339 UTC.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use pramaan_core::api::{OfficerDevice, OfficerStatus, OfficerView};
use pramaan_core::policy::{ComplianceStatus, RowError};
use pramaan_core::text::for_terminal;
use pramaan_core::times::{age_days, rfc3339};

use super::client::{ServerArgs, encode, read_file, typed};
use super::{CliError, CliResult};

/// Seconds since the Unix epoch on this machine (evidence ages).
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

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

/// `pramaan officers import|show`.
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
    /// [,gr_reference,phone_model,phone_purchased]. Prints the number imported and every
    /// rejected row as "line N: reason". Accepted rows are saved even when some are
    /// rejected; the exit status is then 1 unless --allow-rejected is given.
    Import {
        /// The registry CSV file (UTF-8, with the header row).
        file: PathBuf,
        /// Exit 0 even when some rows were rejected (they are still listed on stderr).
        #[arg(long)]
        allow_rejected: bool,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub use pramaan_core::api::ImportReport;

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
            allow_rejected,
            server,
        } => {
            let body = read_file(&file)?;
            let client = server.client()?;
            let answer = client.send("POST", "/v1/officers/import", "text/csv", &body)?;
            let report: ImportReport = typed("/v1/officers/import", answer)?;
            outln!(
                "imported {} officer(s) from {}",
                report.imported,
                file.display()
            );
            for RowError { line, reason } in &report.rejected {
                // Line 0: refused for the whole file's scope (e.g. another department's
                // officer), the reason names the officer.
                if *line == 0 {
                    eprintln!("rejected: {reason}");
                } else {
                    eprintln!("line {line}: {reason}");
                }
            }
            if report.rejected.is_empty() || allow_rejected {
                Ok(())
            } else {
                let saved = if report.imported == 0 {
                    "nothing was imported"
                } else {
                    "the other rows were saved"
                };
                Err(CliError::new(format!(
                    "{} row(s) of {} rejected (listed above; {saved})",
                    report.rejected.len(),
                    file.display()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let v = json!({"imported": 3, "rejected": [{"line": 4, "reason": "entitled must be true or false"}]});
        let r: Result<ImportReport, String> =
            typed("/v1/officers/import", v).map_err(|e| e.to_string());
        assert_eq!(
            r,
            Ok(ImportReport {
                imported: 3,
                rejected: vec![RowError {
                    line: 4,
                    reason: "entitled must be true or false".into()
                }]
            })
        );
        // The answer is the server's type: another shape is refused, not guessed at.
        assert!(typed::<ImportReport>("/v1/officers/import", json!({"upserted": 2})).is_err());
        assert!(typed::<ImportReport>("/v1/officers/import", json!({"ok": true})).is_err());
    }
}
