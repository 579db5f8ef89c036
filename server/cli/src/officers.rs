//! `pramaan officers import FILE.csv`: upload the department's registry of officers.
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

use std::path::PathBuf;

use clap::Subcommand;
use pramaan_core::policy::RowError;

use super::client::{ServerArgs, read_file, typed};
use super::{CliError, CliResult};

/// `pramaan officers import`.
#[derive(Debug, Subcommand)]
pub enum OfficersCmd {
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

/// Runs one `officers` command.
pub fn run(cmd: OfficersCmd) -> CliResult {
    match cmd {
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
            for RowError { line, reason, .. } in &report.rejected {
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

    #[test]
    fn report_reads_count_and_rejections() {
        let v = json!({"imported": 3, "rejected": [{"line": 4, "reason": "entitled must be true or false"}]});
        let r: Result<ImportReport, String> =
            typed("/v1/officers/import", v).map_err(|e| e.to_string());
        assert_eq!(
            r,
            Ok(ImportReport {
                imported: 3,
                rejected: vec![RowError::new(4, "entitled must be true or false")]
            })
        );
        // The answer is the server's type: another shape is refused, not guessed at.
        assert!(typed::<ImportReport>("/v1/officers/import", json!({"upserted": 2})).is_err());
        assert!(typed::<ImportReport>("/v1/officers/import", json!({"ok": true})).is_err());
    }
}
