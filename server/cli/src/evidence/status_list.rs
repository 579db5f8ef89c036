//! `pramaan evidence status-list import FILE` and `show`: the server's copy of Google's
//! attestation revocation status list.
//!
//! Why a command: the server runs offline, so an admin fetches
//! `https://android.googleapis.com/attestation/status` on a connected machine and
//! installs the copy here. What matters besides the entries is when the copy was fetched:
//! an expired factory keybox is accepted only while the list in force is recent enough
//! for the department's policy, so the age is sent with the list (`--fetched`, by default
//! the file's modification time, which `curl -o` sets to the download time) and `show`
//! prints it.
//!
//! The file is checked here first (Google's format, size limit) so a wrong file is named
//! before anything is sent; the server checks it again and is the authority. Installing
//! needs an admin token; `show` works with any token.

use std::path::PathBuf;

use clap::Subcommand;
use pramaan_core::api::{StatusListInfo, StatusListInstalled};
use pramaan_core::evidence::StatusList;

use super::{fail, fetched_time, rfc3339};
use crate::CliResult;
use crate::client::{ServerArgs, read_text, typed};

const PATH: &str = "/v1/evidence/status-list";
const DAY: u64 = 86_400;

/// `pramaan evidence status-list import|show`.
#[derive(Debug, Subcommand)]
pub enum StatusListCmd {
    /// Install a copy of Google's attestation revocation status list on the server
    /// (admin token). Get it on a connected machine with
    /// `curl -o status.json https://android.googleapis.com/attestation/status`.
    Import {
        /// The list as Google publishes it (JSON: {"entries": {"<serial>": {...}}}).
        file: PathBuf,
        /// When the copy was fetched from Google (RFC 3339, e.g. 2026-06-01T08:00:00Z).
        /// Default: FILE's modification time (`curl -o` sets it to the download time;
        /// keep it when copying the file with `cp -p` or `rsync -t`, or give this).
        #[arg(long, value_name = "RFC3339")]
        fetched: Option<String>,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show the list in force on the server: entries, when it was fetched, its age.
    Show {
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `N days` (or `1 day`).
fn days(n: u64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// Runs one `evidence status-list` command.
pub fn run(cmd: StatusListCmd) -> CliResult {
    match cmd {
        StatusListCmd::Import {
            file,
            fetched,
            server,
        } => {
            let json = read_text(&file)?;
            let local = StatusList::from_json(&json)
                .map_err(|e| fail(format!("{}: {e}", file.display())))?;
            let fetched_at = fetched_time(&file, "--fetched", fetched.as_deref())?;
            let client = server.client()?;
            let path = format!("{PATH}?fetched_at={fetched_at}");
            let answer = client.send("PUT", &path, "application/json", json.as_bytes())?;
            let installed: StatusListInstalled = typed(PATH, answer)?;
            if usize::try_from(installed.entries).ok() != Some(local.len()) {
                // The server parsed the same bytes; a different count means the two
                // disagree on the format, which an admin should hear about.
                log::warn!(
                    "the server counted {} entries, this command {}",
                    installed.entries,
                    local.len()
                );
            }
            outln!(
                "installed Google's revocation status list: {} entries, fetched {} ({} old when installed)",
                installed.entries,
                rfc3339(installed.fetched_at),
                days(installed.imported_at.saturating_sub(installed.fetched_at) / DAY),
            );
            Ok(())
        }
        StatusListCmd::Show { server } => {
            let client = server.client()?;
            let info: StatusListInfo = typed(PATH, client.get_json(PATH)?)?;
            outln!("entries:  {}", info.entries);
            outln!("fetched:  {}", rfc3339(info.fetched_at));
            outln!("age:      {}", days(info.age_days));
            outln!("imported: {}", rfc3339(info.imported_at));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(subcommand)]
        cmd: StatusListCmd,
    }

    #[test]
    fn import_takes_a_file_and_an_optional_fetch_time() {
        let t = T::try_parse_from([
            "t",
            "import",
            "status.json",
            "--fetched",
            "2026-06-01T08:00:00Z",
            "--server",
            "https://h",
            "--token",
            "x",
        ])
        .expect("parses");
        match t.cmd {
            StatusListCmd::Import { file, fetched, .. } => {
                assert_eq!(file, PathBuf::from("status.json"));
                assert_eq!(fetched.as_deref(), Some("2026-06-01T08:00:00Z"));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(
            T::try_parse_from(["t", "import", "--server", "https://h", "--token", "x"]).is_err()
        );
    }

    #[test]
    fn days_are_singular_for_one() {
        assert_eq!(days(0), "0 days");
        assert_eq!(days(1), "1 day");
        assert_eq!(days(12), "12 days");
    }
}
