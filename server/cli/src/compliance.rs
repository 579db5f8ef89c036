//! `pramaan compliance [--department D] [--format table|json|csv]`: who is compliant.
//!
//! Department IT's daily question is "who do I have to chase, and for what": the table
//! puts one officer per line with aligned columns (officer, name, status, last seen) and
//! the failing rules with their detail last, where long text cannot break the alignment,
//! then counts per status. `json` prints the server's answer as is (snake_case keys of
//! design section 6: `officer_id`, `status`, `failures[{rule, detail}]`...), `csv` prints
//! the server's CSV export unchanged; only the table is rendered here, by
//! [`render_table`], which `pramaan demo` uses too so both show the same thing.
//!
//! Every string in the table came from a device, the registry or the server and goes
//! through [`for_terminal`]: a model or handle holding `ESC [2J` shows as `\u{001B}[2J`,
//! one officer per line, and cannot clear IT's screen or print a forged "compliant" line.
//!
//! The server's JSON is deserialized into `pramaan_core::api::ComplianceReport`, the type
//! the server serializes: no guessing of key names, and an answer of another shape is a
//! clear error. Unknown extra fields are ignored, so a newer server never breaks it.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use clap::{Args, ValueEnum};
use pramaan_core::api::{ComplianceReport, OfficerCompliance};
use pramaan_core::policy::ComplianceStatus;
use pramaan_core::text::for_terminal;

use super::client::{Client, ServerArgs, encode};
use super::enroll_token::rfc3339;
use super::{CliError, CliResult};

/// `pramaan compliance`: one department's compliance, from the server.
#[derive(Debug, Args)]
pub struct ComplianceCmd {
    /// Department to report on. An IT token reads only its own department; auditors and
    /// admins name the one they want.
    #[arg(long, value_name = "D")]
    pub department: Option<String>,
    /// Output: an aligned table with counts per status, the server's JSON, or its CSV.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// How to reach and trust the server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// How `pramaan compliance` prints the report (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, one officer per line, then counts per status.
    Table,
    /// The server's JSON answer, pretty-printed.
    Json,
    /// The server's CSV export.
    Csv,
}

/// One officer's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The officer's registry id.
    pub officer_id: String,
    /// The officer's name.
    pub name: String,
    /// The officer's status: compliant, warning, noncompliant, stale, not enrolled or revoked.
    pub status: ComplianceStatus,
    /// `(rule, detail)`.
    pub failures: Vec<(String, String)>,
    /// Time of the last accepted attestation (RFC 3339, UTC); `None` if never seen.
    pub last_seen: Option<String>,
    /// The device the status rests on: `platform/assurance` (`android/hardware`,
    /// `desktop/software`); `None` without one.
    pub device: Option<String>,
    /// Age of that device's evidence ("3 d", "5 h") at the report's time.
    pub evidence_age: Option<String>,
    /// The officer's unrevoked devices (a second one is flagged: `2!`).
    pub active_devices: u32,
}

/// A department's compliance as the server reported it, ready to print.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The department, when the server named it.
    pub department: Option<String>,
    /// One row per officer, in the server's order.
    pub rows: Vec<Row>,
}

/// An age in seconds as "N d" (two days or more), "N h" or "N min".
fn age(secs: u64) -> String {
    if secs >= 2 * 86_400 {
        format!("{} d", secs / 86_400)
    } else if secs >= 3600 {
        format!("{} h", secs / 3600)
    } else {
        format!("{} min", secs / 60)
    }
}

impl Row {
    fn from_api(o: &OfficerCompliance, generated_at: u64) -> Self {
        Row {
            device: match (o.platform, o.assurance) {
                (Some(p), Some(a)) => Some(format!("{}/{}", p.as_str(), a.as_str())),
                _ => None,
            },
            evidence_age: o.evidence_at.map(|t| age(generated_at.saturating_sub(t))),
            officer_id: o.officer_id.clone(),
            name: o.name.clone(),
            status: o.status,
            failures: o
                .failures
                .iter()
                .map(|f| (f.rule.as_str().to_string(), f.detail.clone()))
                .collect(),
            last_seen: o.last_seen.map(rfc3339),
            active_devices: o.active_devices,
        }
    }
}

impl Report {
    /// The printable form of the server's answer.
    pub fn from_api(r: &ComplianceReport) -> Self {
        Report {
            department: Some(r.department.clone()),
            rows: r
                .officers
                .iter()
                .map(|o| Row::from_api(o, r.generated_at))
                .collect(),
        }
    }

    /// Officers per status, every status present (zero included), in the design's order.
    pub fn counts(&self) -> Vec<(ComplianceStatus, usize)> {
        let mut map: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.rows {
            *map.entry(r.status.as_str()).or_default() += 1;
        }
        ComplianceStatus::ALL
            .into_iter()
            .map(|s| (s, map.get(s.as_str()).copied().unwrap_or(0)))
            .collect()
    }
}

/// Fetches a department's compliance.
pub fn fetch_report(
    client: &Client,
    department: Option<&str>,
) -> Result<ComplianceReport, CliError> {
    let v = fetch_json(client, department)?;
    serde_json::from_value(v)
        .map_err(|e| CliError::new(format!("unexpected compliance answer from the server: {e}")))
}

/// Fetches a department's compliance as JSON.
pub fn fetch_json(
    client: &Client,
    department: Option<&str>,
) -> Result<serde_json::Value, CliError> {
    let path = match department {
        Some(d) => format!("/v1/compliance?department={}", encode(d)),
        None => "/v1/compliance".to_string(),
    };
    client
        .get_json(&path)
        .map_err(|e| hint_department(e, department))
}

/// Only IT tokens imply their department; say which flag the others need.
fn hint_department(e: CliError, department: Option<&str>) -> CliError {
    // A server that already names the flag says it once.
    if department.is_none() && e.0.contains("department_required") && !e.0.contains("--department")
    {
        CliError::new(format!(
            "{e} (auditor and admin tokens cover every department: give --department D)"
        ))
    } else {
        e
    }
}

/// The width of `s` in characters (table alignment).
pub(crate) fn width(s: &str) -> usize {
    s.chars().count()
}

/// `s` padded with spaces to `w` characters.
pub(crate) fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

fn colour(status: ComplianceStatus) -> &'static str {
    match status {
        ComplianceStatus::Compliant => "\x1b[32m",
        ComplianceStatus::Warning | ComplianceStatus::Stale => "\x1b[33m",
        ComplianceStatus::Noncompliant | ComplianceStatus::Revoked => "\x1b[31m",
        ComplianceStatus::NotEnrolled | ComplianceStatus::NotEntitled => "\x1b[2m",
    }
}

/// The aligned table followed by the counts per status. `colour` adds ANSI colours to
/// the status column (only for terminals).
pub fn render_table(report: &Report, use_colour: bool) -> String {
    const COLS: usize = 7;
    let headers = [
        "OFFICER",
        "NAME",
        "STATUS",
        "LAST SEEN",
        "DEVICE",
        "EVIDENCE AGE",
        "ACTIVE",
        "FAILING RULES",
    ];
    let cells: Vec<[String; COLS]> = report
        .rows
        .iter()
        .map(|r| {
            [
                for_terminal(&r.officer_id).into_owned(),
                for_terminal(&r.name).into_owned(),
                r.status.as_str().to_string(),
                r.last_seen.clone().unwrap_or_else(|| "-".into()),
                r.device.clone().unwrap_or_else(|| "-".into()),
                r.evidence_age.clone().unwrap_or_else(|| "-".into()),
                active_cell(r.active_devices),
            ]
        })
        .collect();
    let mut widths = [0usize; COLS];
    for (i, w) in widths.iter_mut().enumerate() {
        *w = cells
            .iter()
            .map(|c| width(&c[i]))
            .chain([width(headers[i])])
            .max()
            .unwrap_or(0);
    }
    let indent: usize = widths.iter().map(|w| w + 2).sum();
    let mut out = String::new();
    if let Some(d) = &report.department {
        out.push_str(&format!("Department {}\n", for_terminal(d)));
    }
    for (i, h) in headers.iter().enumerate().take(COLS) {
        out.push_str(&pad(h, widths[i] + 2));
    }
    out.push_str(headers[COLS]);
    out.push('\n');
    for (row, c) in report.rows.iter().zip(&cells) {
        let mut line = String::new();
        for (i, cell) in c.iter().enumerate() {
            let padded = pad(cell, widths[i] + 2);
            if i == 2 && use_colour {
                line.push_str(colour(row.status));
                line.push_str(cell);
                line.push_str("\x1b[0m");
                line.push_str(&padded[cell.len()..]);
            } else {
                line.push_str(&padded);
            }
        }
        let mut failures = row.failures.iter();
        match failures.next() {
            Some((rule, detail)) => line.push_str(&failure_text(rule, detail)),
            None => line.push('-'),
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for (rule, detail) in failures {
            out.push_str(&" ".repeat(indent));
            out.push_str(&failure_text(rule, detail));
            out.push('\n');
        }
    }
    let counts: Vec<String> = report
        .counts()
        .into_iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    out.push_str(&format!(
        "\n{} officer(s): {}\n",
        report.rows.len(),
        counts.join(", ")
    ));
    out
}

/// The ACTIVE column: the count of unrevoked devices, flagged with `!` past one.
fn active_cell(n: u32) -> String {
    if n > 1 {
        format!("{n}!")
    } else {
        n.to_string()
    }
}

/// A failure as shown: device and registry text in the detail is escaped, so it can
/// neither move the cursor nor start a line of its own.
fn failure_text(rule: &str, detail: &str) -> String {
    if detail.is_empty() {
        for_terminal(rule).into_owned()
    } else {
        format!("{}: {}", for_terminal(rule), for_terminal(detail))
    }
}

/// Runs `pramaan compliance`.
pub fn run(cmd: ComplianceCmd) -> CliResult {
    let client = cmd.server.client()?;
    let department = cmd.department.as_deref();
    match cmd.format {
        Format::Json => {
            crate::out::json(&fetch_json(&client, department)?)?;
        }
        Format::Csv => {
            let path = match department {
                Some(d) => format!("/v1/compliance?department={}&format=csv", encode(d)),
                None => "/v1/compliance?format=csv".to_string(),
            };
            let csv = client
                .get_text(&path)
                .map_err(|e| hint_department(e, department))?;
            out!("{csv}");
        }
        Format::Table => {
            let report = Report::from_api(&fetch_report(&client, department)?);
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            out!("{}", render_table(&report, colour));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn officer(
        id: &str,
        name: &str,
        status: &str,
        failures: serde_json::Value,
    ) -> serde_json::Value {
        json!({"officer_id": id, "name": name, "designation": "Deputy Secretary",
               "entitled": true, "status": status, "failures": failures,
               "device_id": null, "last_seen": null, "evidence": []})
    }

    fn sample() -> ComplianceReport {
        let mut first = officer("GAD001", "Asha Shah", "compliant", json!([]));
        first["last_seen"] = json!(0);
        first["active_devices"] = json!(2);
        let v = json!({
            "department": "GAD",
            "generated_at": 1,
            "summary": {},
            "officers": [
                first,
                officer("GAD002", "Bhavesh Patel", "noncompliant",
                    json!([{"rule": "R1", "detail": "b.patel@gmail.com is not on an official domain"},
                           {"rule": "R3", "detail": "com.whatsapp signer unknown"}])),
                officer("GAD003", "Chirag Desai", "not_enrolled",
                    json!([{"rule": "R2", "detail": "no enrolled device"}]))
            ]
        });
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_and_counts() {
        let r = Report::from_api(&sample());
        assert_eq!(r.rows.len(), 3);
        assert_eq!(r.department.as_deref(), Some("GAD"));
        assert_eq!(r.rows[0].last_seen.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(r.rows[1].failures.len(), 2);
        let counts = r.counts();
        assert_eq!(counts[0], (ComplianceStatus::Compliant, 1));
        assert_eq!(counts[2], (ComplianceStatus::Noncompliant, 1));
        assert_eq!(counts[4], (ComplianceStatus::NotEnrolled, 1));
        assert_eq!(counts[5], (ComplianceStatus::Revoked, 0));
        // An answer of another shape, or a status the design does not have, is refused.
        assert!(serde_json::from_value::<ComplianceReport>(json!({"nothing": 1})).is_err());
        let mut odd = serde_json::to_value(sample()).unwrap_or_default();
        odd["officers"][0]["status"] = json!("odd");
        assert!(serde_json::from_value::<ComplianceReport>(odd).is_err());
    }

    #[test]
    fn table_is_aligned_and_lists_every_failure() {
        let r = Report::from_api(&sample());
        let t = render_table(&r, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "Department GAD");
        let header = lines[1];
        let status_col = header.find("STATUS").unwrap_or(0);
        let failing_col = header.find("FAILING RULES").unwrap_or(0);
        for l in &lines[2..4] {
            let status = l[status_col..].split_whitespace().next().unwrap_or("");
            assert!(status.parse::<ComplianceStatusName>().is_ok(), "{l}");
        }
        assert!(lines[3].contains("R1: b.patel@gmail.com"));
        // The second failure is on its own line, under the failing-rules column.
        assert_eq!(lines[4].find("R3:"), Some(failing_col), "{t}");
        assert!(t.contains("3 officer(s): compliant 1, warning 0, noncompliant 1"));
        // A second active device is flagged in its own column.
        let active_col = header.find("ACTIVE").unwrap_or(0);
        assert!(lines[2][active_col..].starts_with("2! "), "{t}");
        assert!(lines[3][active_col..].starts_with("0 "), "{t}");
        assert!(!t.contains('\x1b'));
        assert!(render_table(&r, true).contains("\x1b[32mcompliant\x1b[0m"));
    }

    #[test]
    fn device_and_registry_text_is_escaped_one_line_per_officer() {
        // The example: a model, handle and email holding a clear-screen, a
        // cursor-home and a forged "compliant" line, as a server answer could carry them
        // (stored before the server refused such claims, or from a hostile server).
        let forged = "\u{1b}[2J\u{1b}[H\nGAD-009  Forged Officer  compliant";
        let mut bad = officer(
            "GAD-002",
            &format!("Bhavesh{forged}"),
            "noncompliant",
            json!([{"rule": "R2", "detail": format!("model Pixel{forged} is not the GR phone")},
                   {"rule": "R4", "detail": format!("handle +91{forged} is not on the roster")},
                   {"rule": "R1", "detail": "x@\u{202E}ni.vog.tarajug is not official"}]),
        );
        bad["officer_id"] = json!("GAD-002\u{9b}31m");
        let v = json!({"department": "GAD", "generated_at": 1, "summary": {},
                       "officers": [officer("GAD-001", "Asha Shah", "compliant", json!([])), bad]});
        let report: ComplianceReport = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        let t = render_table(&Report::from_api(&report), false);
        for c in ['\u{1b}', '\u{9b}', '\u{202E}', '\r'] {
            assert!(!t.contains(c), "{c:?} reached the table:\n{t}");
        }
        assert!(t.contains("\\u{001B}[2J\\u{001B}[H\\u{000A}GAD-009"), "{t}");
        assert!(t.contains("x@\\u{202E}ni.vog.tarajug"), "{t}");
        // One line per officer (a second or third failure continues under the failing
        // rules column, never at the start of a line), and no line starts with the
        // forged officer.
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[2].starts_with("GAD-001 "), "{t}");
        assert!(lines[3].starts_with("GAD-002\\u{009B}31m "), "{t}");
        assert!(
            lines[4].starts_with(' ') && lines[5].starts_with(' '),
            "{t}"
        );
        assert!(!lines.iter().any(|l| l.starts_with("GAD-009")), "{t}");
        assert_eq!(lines[6], "");
        assert!(lines[7].starts_with("2 officer(s)"), "{t}");
    }

    /// A status name as printed in the table.
    struct ComplianceStatusName;
    impl std::str::FromStr for ComplianceStatusName {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            ComplianceStatus::ALL
                .iter()
                .any(|c| c.as_str() == s)
                .then_some(ComplianceStatusName)
                .ok_or(())
        }
    }
}
