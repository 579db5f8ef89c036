//! `pramaan admin rotate-key answer|log`: `answer` replaces the key that signs the
//! server's answers to phones; `log`, the checkpoint key ([`super::rotate_log_key`]) (the work is `pramaan_server::answer_keys::rotate`; this prints what it did and
//! what follows).
//!
//! Works on the data directory (`--data DIR`), also while servers run on it: they sign
//! with the new key within seconds. Phones learn it from the old key's endorsement that
//! every answer carries; nothing is done on the phones.

use std::path::PathBuf;

use clap::Subcommand;

use super::{CliError, CliResult};

/// `pramaan admin rotate-key ...`.
#[derive(Debug, Subcommand)]
pub enum RotateKeyCmd {
    /// Replace the answer key (`server.key`: signs receipts and results). Phones follow
    /// the old key's endorsement of the new one; the rotation is recorded in the audit log.
    Answer {
        /// The server's data directory.
        #[arg(long, env = "PRAMAAN_DATA")]
        data: PathBuf,
        /// The old key leaked: do not keep it even to answer phones of the previous app
        /// version (v1), which then cannot verify answers until the officer updates the app.
        #[arg(long)]
        retire: bool,
    },
    /// The key that signs the audit log's checkpoints: a new Ed25519 key under the same
    /// origin, handed over by a log entry and a last checkpoint signed by the old key.
    /// The old private key is destroyed. Auditors keep their log key: `audit verify`
    /// follows the chain. Safe while servers run (they pick the new key up within
    /// seconds). Run it again to finish a rotation that was interrupted.
    Log {
        /// The server's data directory.
        #[arg(long, env = "PRAMAAN_DATA")]
        data: PathBuf,
    },
}

/// Runs one `rotate-key` command.
pub fn run(cmd: RotateKeyCmd) -> CliResult {
    match cmd {
        RotateKeyCmd::Answer { data, retire } => {
            let now = pramaan_core::times::now();
            let r = pramaan_server::answer_keys::rotate(&data, now, retire)
                .map_err(|e| CliError::new(e.to_string()))?;
            outln!(
                "Answer key rotated (rotation {} of this server).",
                r.rotations
            );
            outln!("Old key: {}", r.old_key);
            outln!("New key: {}", r.new_key);
            outln!("Logged:  audit-log entry {}", r.log_index);
            match &r.kept {
                Some(path) => outln!(
                    "The old private key is kept in {} only to answer phones of the previous \
                     app version (v1) enrolled under it, until previous_protocol_until; delete \
                     it then, or rotate with --retire if it leaked.",
                    path.display()
                ),
                None => outln!(
                    "The old private key is not kept: phones of the previous app version (v1) \
                     enrolled under it cannot verify answers until the officer updates the app."
                ),
            }
            outln!(
                "Running servers on this directory sign with the new key within seconds; \
                 phones of this version move to it at their next check-in."
            );
            Ok(())
        }
        RotateKeyCmd::Log { data } => super::rotate_log_key::run(&data),
    }
}
