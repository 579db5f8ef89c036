//! The registry and roster CSV uploads: one row loop, every refused row named by its line
//! and field.
//!
//! Every field is validated here, at parse time, so the server, the fuzzers and the
//! command line agree on what a registry row is: length limits ([`limits`]), no control or
//! bidirectional-override characters ([`crate::text::first_unsafe_char`]), real purchase
//! dates not in the future, mobiles and roster handles in E.164 ([`super::phone`]).
//! The loop is linear in the file: a row's line number is counted on from the previous
//! row's, never from the start of the file again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Officer;

/// A rejected CSV row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based line in the file.
    pub line: usize,
    /// The column at fault, when one is (`mobile`, `phone_purchased`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong with the row, in English for the uploader.
    pub reason: String,
}

impl RowError {
    /// A refusal of the row at `line` for `reason`, naming no column.
    pub fn new(line: usize, reason: impl Into<String>) -> Self {
        Self {
            line,
            field: None,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Field limits of a registry row (design section 6), in characters.
pub mod limits {
    /// `officer_id`: at most 64 of `A-Z a-z 0-9 . _ / -`.
    pub const OFFICER_ID: usize = 64;
    /// `department`: at most 64 characters.
    pub const DEPARTMENT: usize = 64;
    /// `name` and `designation`.
    pub const NAME: usize = 200;
    /// `email` (RFC 5321's longest path).
    pub const EMAIL: usize = 254;
    /// `gr_reference` and `phone_model`.
    pub const REFERENCE: usize = 100;
    /// `mobile` as written, before normalization.
    pub const MOBILE: usize = 32;
    /// A roster handle.
    pub const HANDLE: usize = 200;
}

/// Why a row was refused: the column at fault (if one is) and the reason.
type Fault = (Option<&'static str>, String);

fn fault(field: &'static str, reason: String) -> Fault {
    (Some(field), reason)
}

/// `value` of `field` within `max` characters and free of unsafe characters.
fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), Fault> {
    let n = value.chars().count();
    if n > max {
        return Err(fault(
            field,
            format!("{field} has {n} characters, at most {max} are accepted"),
        ));
    }
    if let Some((i, c)) = crate::text::first_unsafe_char(value) {
        return Err(fault(
            field,
            format!(
                "{field} holds the control or direction character U+{:04X} at character {}",
                u32::from(c),
                i + 1
            ),
        ));
    }
    Ok(())
}

fn check_officer_id(id: &str) -> Result<(), Fault> {
    check_text("officer_id", id, limits::OFFICER_ID)?;
    match id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')))
    {
        Some(c) => Err(fault(
            "officer_id",
            format!("officer_id {id:?} holds {c:?}; ids are letters, digits and . _ / - only"),
        )),
        None => Ok(()),
    }
}

/// A purchase date as the registry CSV documents it: `YYYY-MM-DD`, `DD/MM/YYYY` or
/// `DD-MM-YYYY`; a real calendar date, not after `today`. Written back as `YYYY-MM-DD`.
pub fn parse_purchase_date(text: &str, today: time::Date) -> Result<String, String> {
    let nums: Vec<&str> = text.split(['-', '/']).collect();
    let sep_ok = |sep: char| text.matches(sep).count() == 2;
    let (y, m, d) = match nums.as_slice() {
        [y, m, d] if y.len() == 4 && sep_ok('-') => (*y, *m, *d),
        [d, m, y] if y.len() == 4 && (sep_ok('/') || sep_ok('-')) => (*y, *m, *d),
        _ => {
            return Err(format!(
                "phone_purchased {:?} is not a date (YYYY-MM-DD or DD/MM/YYYY)",
                crate::text::for_terminal(text)
            ));
        }
    };
    let num = |s: &str| -> Option<u16> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(y), num(m), num(d)) else {
        return Err(format!(
            "phone_purchased {:?} is not a date (YYYY-MM-DD or DD/MM/YYYY)",
            crate::text::for_terminal(text)
        ));
    };
    let date = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .zip(u8::try_from(d).ok())
        .and_then(|(month, day)| time::Date::from_calendar_date(i32::from(y), month, day).ok())
        .ok_or_else(|| format!("phone_purchased {text:?} is not a day of the calendar"))?;
    if date > today {
        return Err(format!(
            "phone_purchased {text:?} is in the future (today is {today})"
        ));
    }
    Ok(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

/// The warning for an officer whose registry email is not on one of the department
/// policy's `email_domains` (rule R1 will fail for that officer's device): a warning in
/// the import report, not a refusal, since the registry may be ahead of the policy.
pub fn email_domain_warning(officer: &Officer, email_domains: &[String]) -> Option<String> {
    let domain = officer.email.rsplit_once('@').map_or("", |(_, d)| d);
    if email_domains
        .iter()
        .any(|d| super::rules::domain_allowed(domain, d))
    {
        return None;
    }
    Some(format!(
        "officer {}: email {} is not on a domain of the {} policy ({}); rule R1 will fail",
        officer.officer_id,
        officer.email,
        officer.department,
        email_domains.join(", ")
    ))
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

/// The 1-based line each record starts on, for records met in file order. Computed from
/// the record's byte offset rather than taken from `csv::Position::line`, which points at
/// the blank lines the reader skipped before the record, so an error after a blank line
/// would name the wrong line. Counting goes on from the previous record (linear in the
/// file; counting from the start for every row made a 20,000-row import take 21 s).
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// Bytes counted so far; always just after a run of line breaks (or 0), so a `\r\n`
    /// is never split between two counts.
    counted: usize,
    /// Line breaks in `bytes[..counted]`.
    breaks: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            counted: 0,
            breaks: 0,
        }
    }

    fn line_at(&mut self, pos: Option<&csv::Position>) -> usize {
        let Some(byte) = pos.and_then(|p| usize::try_from(p.byte()).ok()) else {
            return 0;
        };
        let bytes = self.bytes;
        let byte = byte.min(bytes.len());
        let skipped = bytes[byte..]
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        let end = byte + skipped;
        if end < self.counted {
            // Not in file order (never seen from the csv reader): count from the start.
            return line_breaks(&bytes[..end]) + 1;
        }
        self.breaks += line_breaks(&bytes[self.counted..end]);
        self.counted = end;
        self.breaks + 1
    }
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
    let headers = reader
        .headers()
        .map_err(|e| RowError::new(1, format!("cannot read the header row: {e}")))?;
    let mut map = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
            return Err(RowError::new(
                1,
                format!(
                    "unknown column {h:?} in the header (expected {})",
                    required.join(",")
                ),
            ));
        }
        if map.insert(h.clone(), i).is_some() {
            return Err(RowError::new(
                1,
                format!("column {h:?} appears twice in the header"),
            ));
        }
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !map.contains_key(*r))
        .collect();
    if !missing.is_empty() {
        return Err(RowError::new(
            1,
            format!(
                "header row lacks column(s) {} (expected {})",
                missing.join(", "),
                required.join(",")
            ),
        ));
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
    mut row: impl FnMut(&CsvRow<'_>) -> Result<T, Fault>,
) -> (Vec<(usize, T)>, Vec<RowError>) {
    let text = strip_bom(text);
    let mut lines = LineCounter::new(text);
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
                errors.push(RowError::new(
                    lines.line_at(e.position()),
                    format!("not readable as CSV: {e}"),
                ));
                continue;
            }
        };
        let line = lines.line_at(rec.position());
        if rec.iter().all(str::is_empty) {
            continue; // blank line
        }
        if rec.len() != width {
            errors.push(RowError::new(
                line,
                format!("{} fields where the header has {width}", rec.len()),
            ));
            continue;
        }
        match row(&CsvRow {
            cols: &cols,
            rec: &rec,
        }) {
            Ok(t) => rows.push((line, t)),
            Err((field, reason)) => errors.push(RowError {
                line,
                field: field.map(str::to_string),
                reason,
            }),
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
/// later (the server's department scope) and must still name the line. Purchase dates
/// after today (UTC) are refused.
pub fn officer_rows_from_csv(text: &str) -> (Vec<(usize, Officer)>, Vec<RowError>) {
    let today = time::OffsetDateTime::now_utc().date();
    officer_rows_from_csv_at(text, today)
}

/// [`officer_rows_from_csv`] as of `today` (purchase dates after it are refused).
pub fn officer_rows_from_csv_at(
    text: &str,
    today: time::Date,
) -> (Vec<(usize, Officer)>, Vec<RowError>) {
    let (rows, mut errors) = csv_rows(text, &OFFICER_REQUIRED, &OFFICER_OPTIONAL, |r| {
        officer_row(r, today)
    });
    let mut officers: Vec<(usize, Officer)> = Vec::with_capacity(rows.len());
    let mut seen: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(rows.len());
    for (line, o) in rows {
        if let Some(first) = seen.get(&o.officer_id) {
            errors.push(RowError {
                line,
                field: Some("officer_id".into()),
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

/// One registry row, every field checked.
fn officer_row(r: &CsvRow<'_>, today: time::Date) -> Result<Officer, Fault> {
    let get = |c: &str| r.get(c);
    let required = |c: &'static str| -> Result<String, Fault> {
        let v = get(c);
        if v.is_empty() {
            Err(fault(c, format!("{c} is empty")))
        } else {
            Ok(v.to_string())
        }
    };
    let optional = |c: &str| Some(get(c).to_string()).filter(|v| !v.is_empty());
    let officer_id = required("officer_id")?;
    check_officer_id(&officer_id)?;
    let name = required("name")?;
    check_text("name", &name, limits::NAME)?;
    let designation = get("designation").to_string();
    check_text("designation", &designation, limits::NAME)?;
    let department = required("department")?;
    check_text("department", &department, limits::DEPARTMENT)?;
    let email = required("email")?;
    check_text("email", &email, limits::EMAIL)?;
    if !looks_like_email(&email) {
        return Err(fault(
            "email",
            format!("email {email:?} is not an email address"),
        ));
    }
    let mobile_text = get("mobile");
    check_text("mobile", mobile_text, limits::MOBILE)?;
    let mobile = if mobile_text.is_empty() {
        String::new()
    } else {
        super::phone::normalize_mobile(mobile_text).map_err(|e| fault("mobile", e))?
    };
    let entitled_text = get("entitled");
    let entitled = parse_bool(entitled_text).ok_or_else(|| {
        fault(
            "entitled",
            format!("entitled is {entitled_text:?}; expected true/false, yes/no or 1/0"),
        )
    })?;
    let gr_reference = optional("gr_reference");
    let phone_model = optional("phone_model");
    for (field, v) in [
        ("gr_reference", &gr_reference),
        ("phone_model", &phone_model),
    ] {
        if let Some(v) = v {
            check_text(field, v, limits::REFERENCE)?;
        }
    }
    let phone_purchased = match optional("phone_purchased") {
        None => None,
        Some(d) => Some(parse_purchase_date(&d, today).map_err(|e| fault("phone_purchased", e))?),
    };
    Ok(Officer {
        officer_id,
        name,
        designation,
        department,
        email,
        mobile,
        entitled,
        gr_reference,
        phone_model,
        phone_purchased,
        retired_at: None,
    })
}

/// A roster upload as read: phone-number handles in E.164, other handles trimmed, each
/// handle of a group once (compared as [`normalize_handle`](super::phone::normalize_handle)
/// compares them, as rule R4 does).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RosterRows {
    /// `(platform, group, handle)` in file order, the first of each duplicate kept.
    pub rows: Vec<(String, String, String)>,
    /// Rows dropped because their group already lists the same (normalized) handle.
    pub duplicates: u64,
}

/// Parses a roster CSV (`platform,group,handle`, header required). All or nothing: a
/// roster with a bad row is refused as a whole, so a group is never checked against half
/// a list. Phone-number handles are written in E.164, so `9800000101` and
/// `+919800000101` are one member, counted once. A file with a header and no rows parses
/// as an empty roster: whether that may replace a roster is the caller's decision.
pub fn roster_from_csv(text: &str) -> Result<RosterRows, Vec<RowError>> {
    const REQUIRED: [&str; 3] = ["platform", "group", "handle"];
    let (rows, errors) = csv_rows(text, &REQUIRED, &[], |r| {
        let get = |c: &str| r.get(c);
        if let Some(c) = REQUIRED.iter().find(|c| get(c).is_empty()) {
            return Err(fault(c, format!("{c} is empty")));
        }
        check_text("platform", get("platform"), limits::NAME)?;
        check_text("group", get("group"), limits::NAME)?;
        check_text("handle", get("handle"), limits::HANDLE)?;
        Ok((
            get("platform").to_string(),
            get("group").to_string(),
            // A phone number in E.164; another handle as written (trimmed).
            super::phone::normalize_mobile(get("handle"))
                .unwrap_or_else(|_| get("handle").to_string()),
        ))
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    let mut out = RosterRows::default();
    for (_, row) in rows {
        let key = (
            row.0.clone(),
            row.1.clone(),
            super::phone::normalize_handle(&row.2),
        );
        if seen.insert(key) {
            out.rows.push(row);
        } else {
            out.duplicates += 1;
        }
    }
    Ok(out)
}
