//! Client-controlled text never reaches the server log unescaped (issue 12, "quiet and
//! closed"). `pramaan_server::log_text::untrusted` escapes and bounds one value; this
//! test reads every log statement of the server library and requires each value it
//! formats to be either wrapped in `untrusted(...)` or one the server itself made (an id
//! it parsed or generated, a count, a token's label, a path of its own): a new log
//! statement that formats anything else fails here until it is escaped or classified.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use pramaan_server::log_text::untrusted;

/// Values the server made itself, as they are written in the log statements.
const SERVER_MADE: &[&str] = &[
    // token labels (set by `admin token`, never by a request)
    "auth.0.label",
    // UUIDs and ids the server parsed, generated or read back from its own records
    "device_id",
    "enrolled.device_id",
    "enrolled.officer_id",
    "enrolled.department",
    "outcome.device_id",
    "outcome.seq",
    "outcome.verdict.as_str()",
    "device.device_id",
    "d",
    // numbers
    "imported",
    "rejected.len()",
    "verb",
    "took",
    "report.imported",
    "report.added",
    "report.updated",
    "report.unchanged",
    "report.moved",
    "report.reinstated",
    "report.rejected.len()",
    "change.devices.len()",
    "change.tokens_cancelled",
    "loaded.list.len()",
    "loaded.fetched_at",
    "fetched_at",
    "limit",
    "retry_after",
    "what",
    "version",
    "stored.size",
    "index",
    // the server's own paths, addresses and errors of its own files and tasks
    "paths.dir.display()",
    "dir.display()",
    "file.display()",
    "mode",
    "addr",
    "public_url",
    "e",
    "id",
    "role",
    "expires",
    // TLS certificates of the data directory (cert_renewal): pins, times, warnings
    "pin",
    "staged",
    "w",
    "leaf.not_after",
    "current.not_after",
    "takes_over_at",
    "retired.display()",
    "pramaan_core::encoding::b64url(&leaf.pin)",
];

/// Messages whose `{e}` is an I/O, join or store error of the server's own files and
/// threads (no request text in it): the only places `e` is allowed bare.
const OWN_ERRORS: &[&str] = &[
    "cannot record the witnessed tree",
    "add-checkpoint task failed",
    "stopped",
    "group commit failed",
    "keeping the cosigned checkpoint",
    "could not remove",
    "the kept local CA cannot issue",
    "TLS certificate not reloaded",
];

#[test]
fn one_log_line_stays_one_line_whatever_a_client_sends() {
    for hostile in [
        "issuer\nINFO forged line",
        "model\r\x1b[1A\x1b[2Kok",
        "\u{202E}evil",
    ] {
        let line = format!("enrollment evidence: {}", untrusted(hostile));
        assert_eq!(line.lines().count(), 1, "{line:?}");
        assert!(!line.contains('\x1b') && !line.contains('\r') && !line.contains('\u{202E}'));
    }
}

#[test]
fn every_log_statement_escapes_what_a_client_chose() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut statements = 0;
    let mut unclassified = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        // Unit tests may log what they like.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for stmt in log_statements(code) {
            statements += 1;
            let (format, args) = split_args(&stmt);
            let own_error = OWN_ERRORS.iter().any(|m| format.contains(m));
            for value in inline_captures(&format).into_iter().chain(args) {
                let ok = value.starts_with("crate::log_text::untrusted(")
                    || (SERVER_MADE.contains(&value.as_str()) && (value != "e" || own_error));
                if !ok {
                    unclassified.push(format!("{}: {value} in {stmt}", file.display()));
                }
            }
        }
    }
    assert!(statements > 20, "found only {statements} log statements");
    assert!(
        unclassified.is_empty(),
        "log values neither escaped nor known to be the server's own:\n{}",
        unclassified.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The argument text of every `log::LEVEL!(...)` (balanced parentheses, strings skipped).
fn log_statements(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for level in ["error", "warn", "info", "debug", "trace"] {
        let needle = format!("log::{level}!(");
        let mut rest = code;
        while let Some(at) = rest.find(&needle) {
            let body = &rest[at + needle.len()..];
            let end = closing_paren(body).expect("balanced log statement");
            out.push(body[..end].to_string());
            rest = &body[end..];
        }
    }
    out
}

fn closing_paren(s: &str) -> Option<usize> {
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    for (i, c) in s.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The format string and the trimmed positional arguments, split at top-level commas.
fn split_args(stmt: &str) -> (String, Vec<String>) {
    let (mut parts, mut cur) = (Vec::new(), String::new());
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    for c in stmt.chars() {
        if in_str {
            cur.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    let mut parts: Vec<String> = parts
        .into_iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    let format = parts.remove(0);
    (format, parts)
}

/// `{name}` and `{name:?}` captures inside the format string (not `{}` or `{{`).
fn inline_captures(format: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = format;
    while let Some(at) = rest.find('{') {
        let after = &rest[at + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            rest = stripped;
            continue;
        }
        let end = after.find('}').unwrap_or(after.len());
        let name = after[..end].split(':').next().unwrap_or_default();
        if !name.is_empty() {
            out.push(name.to_string());
        }
        rest = &after[end.min(after.len())..];
    }
    out
}
