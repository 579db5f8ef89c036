//! `pramaan roster set --department D --group G FILE.csv`: upload a group's roster.
//!
//! Rule R4 is only `self_declared` until IT uploads who is really in the group; with a
//! roster the officer's handle must be on it (`roster_confirmed`). The CSV is
//! `platform,group,handle` (design section 6). It is checked here with the core's parser
//! so a malformed row is reported as `line N: reason` before anything is sent, and every
//! row must name the group given on the command line (a roster of another group uploaded
//! by mistake would silently fail every officer). Phone-number handles are sent as
//! written and stored in E.164 (`9800000101` is `+919800000101`); a handle listed twice
//! is stored once and the duplicates are counted. A file with the header and no rows
//! would empty the roster: refused unless `--allow-empty` says that is meant.

use std::path::PathBuf;

use clap::Subcommand;
use pramaan_core::api::RosterReport;
use pramaan_core::policy::roster_from_csv;

use super::client::{ServerArgs, encode, read_text, typed};
use super::{CliError, CliResult};

/// `pramaan roster set`.
#[derive(Debug, Subcommand)]
pub enum RosterCmd {
    /// Replace the roster of one group with a CSV file `platform,group,handle` (header
    /// row first). Every row must be for --group.
    Set {
        /// Department owning the group.
        #[arg(long, value_name = "D")]
        department: String,
        /// Group id as in the department's policy (e.g. gad-officers).
        #[arg(long, value_name = "G")]
        group: String,
        /// The roster CSV file.
        file: PathBuf,
        /// Accept a file with no handles: the group's roster is emptied (R4 goes back to
        /// `self_declared` for it). Without this flag such a file is refused.
        #[arg(long)]
        allow_empty: bool,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Checks the roster locally; returns the number of distinct handles.
pub fn check(text: &str, group: &str, allow_empty: bool) -> Result<usize, CliError> {
    let rows = roster_from_csv(text).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("line {}: {}", e.line, e.reason))
            .collect();
        CliError::new(format!("roster refused:\n{}", lines.join("\n")))
    })?;
    if let Some((_, g, h)) = rows.rows.iter().find(|(_, g, _)| g != group) {
        return Err(CliError::new(format!(
            "the file has a row for group {g:?} (handle {h}) but --group is {group:?}"
        )));
    }
    if rows.rows.is_empty() && !allow_empty {
        return Err(CliError::new(
            "the file lists no handle: it would empty the roster of the group; \
             give --allow-empty if that is meant",
        ));
    }
    Ok(rows.rows.len())
}

/// Runs one `roster` command.
pub fn run(cmd: RosterCmd) -> CliResult {
    match cmd {
        RosterCmd::Set {
            department,
            group,
            file,
            allow_empty,
            server,
        } => {
            let text = read_text(&file)?;
            // Checked here first, so a bad file is refused before any request.
            check(&text, &group, allow_empty)
                .map_err(|e| CliError::new(format!("{}: {e}", file.display())))?;
            let client = server.client()?;
            let path = format!(
                "/v1/departments/{}/groups/{}/roster{}",
                encode(&department),
                encode(&group),
                if allow_empty { "?allow_empty=true" } else { "" }
            );
            let answer = client.send("PUT", &path, "text/csv", text.as_bytes())?;
            let report = typed::<RosterReport>(&path, answer)?;
            outln!(
                "roster of {department}/{group} set: {} handle(s){}",
                report.handles,
                match report.duplicates {
                    0 => String::new(),
                    n => format!(" ({n} duplicate row(s) dropped)"),
                }
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_must_match_the_group() {
        let csv = "platform,group,handle\nWhatsApp,gad-officers,+919800000001\nWhatsApp,gad-officers,+919800000002\n";
        assert_eq!(check(csv, "gad-officers", false).ok(), Some(2));
        let err = check(csv, "other", false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("gad-officers") && err.contains("other"),
            "{err}"
        );
    }

    #[test]
    fn empty_roster_only_when_asked_and_duplicates_once() {
        let header = "platform,group,handle\n";
        let err = check(header, "g", false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("--allow-empty"), "{err}");
        assert_eq!(check(header, "g", true).ok(), Some(0));
        let dup = "platform,group,handle\nWhatsApp,g,9800000101\nWhatsApp,g,+919800000101\n";
        assert_eq!(check(dup, "g", false).ok(), Some(1));
    }
}
