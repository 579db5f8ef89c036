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
//! The server's JSON is read leniently (a list, or an object holding it under
//! `officers`), so an extra field never breaks the command.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::client::{Client, ServerArgs, encode};
use super::enroll_token::rfc3339;
use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct ComplianceCmd {
    /// Department to report on. An IT token reads only its own department; auditors and
    /// admins name the one they want.
    #[arg(long, value_name = "D")]
    pub department: Option<String>,
    /// Output: an aligned table with counts per status, the server's JSON, or its CSV.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, one officer per line, then counts per status.
    Table,
    /// The server's JSON answer, pretty-printed.
    Json,
    /// The server's CSV export.
    Csv,
}

/// The statuses in the order they are counted (design section 6).
pub const STATUSES: [&str; 6] = [
    "compliant",
    "warning",
    "noncompliant",
    "stale",
    "not_enrolled",
    "revoked",
];

/// One officer's line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    pub officer_id: String,
    pub name: String,
    pub status: String,
    /// `(rule, detail)`.
    pub failures: Vec<(String, String)>,
    pub last_seen: Option<String>,
}

/// A department's compliance as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub department: Option<String>,
    pub rows: Vec<Row>,
}

fn text(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match v.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn time_of(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match v.get(*k)? {
        Value::Number(n) => n.as_u64().map(rfc3339),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

impl Row {
    fn from_json(v: &Value) -> Self {
        let failures = v
            .get("failures")
            .and_then(Value::as_array)
            .map(|fs| {
                fs.iter()
                    .map(|f| {
                        (
                            text(f, &["rule"]).unwrap_or_else(|| "?".into()),
                            text(f, &["detail", "message"]).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The latest attestation may sit on the officer or on its device.
        let device = v.get("device").filter(|d| d.is_object());
        let last_seen = time_of(v, &["last_seen", "last_attested", "received_at"])
            .or_else(|| device.and_then(|d| time_of(d, &["last_seen", "received_at"])));
        Row {
            officer_id: text(v, &["officer_id", "officer"]).unwrap_or_default(),
            name: text(v, &["name"]).unwrap_or_default(),
            status: text(v, &["status"]).unwrap_or_else(|| "unknown".into()),
            failures,
            last_seen,
        }
    }
}

impl Report {
    /// Reads the server's compliance JSON.
    pub fn from_json(v: &Value) -> Result<Self, CliError> {
        let list = match v {
            Value::Array(a) => a,
            Value::Object(_) => ["officers", "rows", "compliance"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_array))
                .ok_or_else(|| CliError::new("unexpected compliance answer: no `officers` list"))?,
            _ => return Err(CliError::new("unexpected compliance answer: not a list")),
        };
        Ok(Report {
            department: text(v, &["department"]),
            rows: list.iter().map(Row::from_json).collect(),
        })
    }

    /// Officers per status, every known status present (zero included), others after.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut map: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.rows {
            *map.entry(r.status.as_str()).or_default() += 1;
        }
        let mut out: Vec<(String, usize)> = STATUSES
            .iter()
            .map(|s| (s.to_string(), map.remove(s).unwrap_or(0)))
            .collect();
        out.extend(map.into_iter().map(|(s, n)| (s.to_string(), n)));
        out
    }
}

/// Fetches a department's compliance as JSON.
pub fn fetch_json(client: &Client, department: Option<&str>) -> Result<Value, CliError> {
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
    if department.is_none() && e.0.contains("department_required") {
        CliError::new(format!(
            "{e} (auditor and admin tokens cover every department: give --department D)"
        ))
    } else {
        e
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

fn colour(status: &str) -> &'static str {
    match status {
        "compliant" => "\x1b[32m",
        "warning" | "stale" => "\x1b[33m",
        "noncompliant" | "revoked" => "\x1b[31m",
        _ => "\x1b[2m",
    }
}

/// The aligned table followed by the counts per status. `colour` adds ANSI colours to
/// the status column (only for terminals).
pub fn render_table(report: &Report, use_colour: bool) -> String {
    let headers = ["OFFICER", "NAME", "STATUS", "LAST SEEN", "FAILING RULES"];
    let cells: Vec<[String; 4]> = report
        .rows
        .iter()
        .map(|r| {
            [
                r.officer_id.clone(),
                r.name.clone(),
                r.status.clone(),
                r.last_seen.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = [0usize; 4];
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
        out.push_str(&format!("Department {d}\n"));
    }
    for (i, h) in headers.iter().enumerate().take(4) {
        out.push_str(&pad(h, widths[i] + 2));
    }
    out.push_str(headers[4]);
    out.push('\n');
    for (row, c) in report.rows.iter().zip(&cells) {
        let mut line = String::new();
        for (i, cell) in c.iter().enumerate() {
            let padded = pad(cell, widths[i] + 2);
            if i == 2 && use_colour {
                line.push_str(colour(cell));
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

fn failure_text(rule: &str, detail: &str) -> String {
    if detail.is_empty() {
        rule.to_string()
    } else {
        format!("{rule}: {detail}")
    }
}

pub fn run(cmd: ComplianceCmd) -> CliResult {
    let client = cmd.server.client()?;
    let department = cmd.department.as_deref();
    match cmd.format {
        Format::Json => {
            let v = fetch_json(&client, department)?;
            let pretty = serde_json::to_string_pretty(&v)
                .map_err(|e| CliError::new(format!("cannot print JSON: {e}")))?;
            println!("{pretty}");
        }
        Format::Csv => {
            let path = match department {
                Some(d) => format!("/v1/compliance?department={}&format=csv", encode(d)),
                None => "/v1/compliance?format=csv".to_string(),
            };
            let csv = client
                .get_text(&path)
                .map_err(|e| hint_department(e, department))?;
            print!("{csv}");
        }
        Format::Table => {
            let v = fetch_json(&client, department)?;
            let mut report = Report::from_json(&v)?;
            if report.department.is_none() {
                report.department = cmd.department.clone();
            }
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", render_table(&report, colour));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "department": "GAD",
            "officers": [
                {"officer_id": "GAD001", "name": "Asha Shah", "status": "compliant", "failures": [],
                 "last_seen": 0},
                {"officer_id": "GAD002", "name": "Bhavesh Patel", "status": "noncompliant",
                 "failures": [{"rule": "R1", "detail": "b.patel@gmail.com is not on an official domain"},
                              {"rule": "R3", "detail": "com.whatsapp signer unknown"}]},
                {"officer_id": "GAD003", "name": "Chirag Desai", "status": "not_enrolled",
                 "failures": [{"rule": "R2", "detail": "no enrolled device"}]}
            ]
        })
    }

    #[test]
    fn parses_and_counts() {
        let r = Report::from_json(&sample()).unwrap_or_default();
        assert_eq!(r.rows.len(), 3);
        assert_eq!(r.department.as_deref(), Some("GAD"));
        assert_eq!(r.rows[0].last_seen.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(r.rows[1].failures.len(), 2);
        let counts = r.counts();
        assert_eq!(counts[0], ("compliant".to_string(), 1));
        assert_eq!(counts[2], ("noncompliant".to_string(), 1));
        assert_eq!(counts[4], ("not_enrolled".to_string(), 1));
        assert_eq!(counts[5], ("revoked".to_string(), 0));
        let list =
            Report::from_json(&json!([{"officer_id": "X", "status": "odd"}])).unwrap_or_default();
        assert_eq!(list.counts().last(), Some(&("odd".to_string(), 1)));
        assert!(Report::from_json(&json!({"nothing": 1})).is_err());
    }

    #[test]
    fn table_is_aligned_and_lists_every_failure() {
        let r = Report::from_json(&sample()).unwrap_or_default();
        let t = render_table(&r, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "Department GAD");
        let header = lines[1];
        let status_col = header.find("STATUS").unwrap_or(0);
        let failing_col = header.find("FAILING RULES").unwrap_or(0);
        for l in &lines[2..4] {
            let status = l[status_col..].split_whitespace().next().unwrap_or("");
            assert!(STATUSES.contains(&status), "{l}");
        }
        assert!(lines[3].contains("R1: b.patel@gmail.com"));
        // The second failure is on its own line, under the failing-rules column.
        assert_eq!(lines[4].find("R3:"), Some(failing_col), "{t}");
        assert!(t.contains("3 officer(s): compliant 1, warning 0, noncompliant 1"));
        assert!(!t.contains('\x1b'));
        assert!(render_table(&r, true).contains("\x1b[32mcompliant\x1b[0m"));
    }
}
