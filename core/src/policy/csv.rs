//! The registry and roster CSV uploads: one row loop, every refused row named by its line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Officer;

/// A rejected CSV row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong with the row, in English for the uploader.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

const OFFICER_REQUIRED: [&str; 7] = [
    "officer_id",
    "name",
    "designation",
    "department",
    "email",
    "mobile",
    "entitled",
];
const OFFICER_OPTIONAL: [&str; 3] = ["gr_reference", "phone_model", "phone_purchased"];

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

/// The 1-based line a record starts on. Computed from its byte offset rather than taken
/// from `csv::Position::line`, which points at the blank lines the reader skipped before
/// the record, so an error after a blank line would name the wrong line.
fn line_at(text: &str, pos: Option<&csv::Position>) -> usize {
    let Some(byte) = pos.and_then(|p| usize::try_from(p.byte()).ok()) else {
        return 0;
    };
    let bytes = text.as_bytes();
    let byte = byte.min(bytes.len());
    let skipped = bytes[byte..]
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    line_breaks(&bytes[..byte + skipped]) + 1
}

/// Line breaks as the CSV reader sees them: `\r\n`, `\n` or a lone `\r` each end a line.
pub(super) fn line_breaks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// Maps header names to column indexes; every `required` column must be present and no
/// column may be unknown or repeated.
fn header_map(
    reader: &mut csv::Reader<&[u8]>,
    required: &[&str],
    optional: &[&str],
) -> Result<BTreeMap<String, usize>, RowError> {
    let headers = reader.headers().map_err(|e| RowError {
        line: 1,
        reason: format!("cannot read the header row: {e}"),
    })?;
    let mut map = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
            return Err(RowError {
                line: 1,
                reason: format!(
                    "unknown column {h:?} in the header (expected {})",
                    required.join(",")
                ),
            });
        }
        if map.insert(h.clone(), i).is_some() {
            return Err(RowError {
                line: 1,
                reason: format!("column {h:?} appears twice in the header"),
            });
        }
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !map.contains_key(*r))
        .collect();
    if !missing.is_empty() {
        return Err(RowError {
            line: 1,
            reason: format!(
                "header row lacks column(s) {} (expected {})",
                missing.join(", "),
                required.join(",")
            ),
        });
    }
    Ok(map)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// One data row of a CSV, read by column name ("" for an absent column).
struct CsvRow<'a> {
    cols: &'a BTreeMap<String, usize>,
    rec: &'a csv::StringRecord,
}

impl<'a> CsvRow<'a> {
    fn get(&self, column: &str) -> &'a str {
        self.cols
            .get(column)
            .and_then(|&i| self.rec.get(i))
            .unwrap_or("")
    }
}

/// Reads the data rows of a CSV with a required header: each non-blank row goes to `row`;
/// errors come back with their 1-based line. The one loop behind the registry and roster
/// imports.
fn csv_rows<T>(
    text: &str,
    required: &[&'static str],
    optional: &[&'static str],
    mut row: impl FnMut(&CsvRow<'_>) -> Result<T, String>,
) -> (Vec<(usize, T)>, Vec<RowError>) {
    let text = strip_bom(text);
    let mut reader = csv_reader(text);
    let cols = match header_map(&mut reader, required, optional) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let width = cols.len();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for rec in reader.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: line_at(text, e.position()),
                    reason: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        };
        let line = line_at(text, rec.position());
        if rec.iter().all(str::is_empty) {
            continue; // blank line
        }
        if rec.len() != width {
            errors.push(RowError {
                line,
                reason: format!("{} fields where the header has {width}", rec.len()),
            });
            continue;
        }
        match row(&CsvRow {
            cols: &cols,
            rec: &rec,
        }) {
            Ok(t) => rows.push((line, t)),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    (rows, errors)
}

/// Parses the registry CSV. The header row is required (columns by name, any order); rows
/// that fail are reported with their line and reason, the good rows are returned.
pub fn officers_from_csv(text: &str) -> (Vec<Officer>, Vec<RowError>) {
    let (rows, errors) = officer_rows_from_csv(text);
    (rows.into_iter().map(|(_, o)| o).collect(), errors)
}

/// [`officers_from_csv`] with each good row's 1-based line, for callers that refuse rows
/// later (the server's department scope) and must still name the line.
pub fn officer_rows_from_csv(text: &str) -> (Vec<(usize, Officer)>, Vec<RowError>) {
    let (rows, mut errors) = csv_rows(text, &OFFICER_REQUIRED, &OFFICER_OPTIONAL, |r| {
        let get = |c: &str| r.get(c);
        let required = |c: &'static str| -> Result<String, String> {
            let v = get(c);
            if v.is_empty() {
                Err(format!("{c} is empty"))
            } else {
                Ok(v.to_string())
            }
        };
        let optional = |c: &str| Some(get(c).to_string()).filter(|v| !v.is_empty());
        let email = required("email")?;
        if !looks_like_email(&email) {
            return Err(format!("email {email:?} is not an email address"));
        }
        let entitled_text = get("entitled");
        let entitled = parse_bool(entitled_text).ok_or_else(|| {
            format!("entitled is {entitled_text:?}; expected true/false, yes/no or 1/0")
        })?;
        Ok(Officer {
            officer_id: required("officer_id")?,
            name: required("name")?,
            designation: get("designation").to_string(),
            department: required("department")?,
            email,
            mobile: get("mobile").to_string(),
            entitled,
            gr_reference: optional("gr_reference"),
            phone_model: optional("phone_model"),
            phone_purchased: optional("phone_purchased"),
        })
    });
    let mut officers: Vec<(usize, Officer)> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, o) in rows {
        if let Some(first) = seen.get(&o.officer_id) {
            errors.push(RowError {
                line,
                reason: format!(
                    "officer_id {} already appears on line {first}",
                    o.officer_id
                ),
            });
        } else {
            seen.insert(o.officer_id.clone(), line);
            officers.push((line, o));
        }
    }
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() {
        log::info!(
            "registry CSV: {} row(s) accepted, {} rejected",
            officers.len(),
            errors.len()
        );
    }
    (officers, errors)
}

/// Parses a roster CSV (`platform,group,handle`, header required). All or nothing: a
/// roster with a bad row is refused as a whole, so a group is never checked against half
/// a list.
pub fn roster_from_csv(text: &str) -> Result<Vec<(String, String, String)>, Vec<RowError>> {
    const REQUIRED: [&str; 3] = ["platform", "group", "handle"];
    let (rows, errors) = csv_rows(text, &REQUIRED, &[], |r| {
        let get = |c: &str| r.get(c);
        match REQUIRED.iter().find(|c| get(c).is_empty()) {
            Some(c) => Err(format!("{c} is empty")),
            None => Ok((
                get("platform").to_string(),
                get("group").to_string(),
                get("handle").to_string(),
            )),
        }
    });
    if errors.is_empty() {
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    } else {
        Err(errors)
    }
}
