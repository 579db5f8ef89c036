//! `pramaan token inspect FILE [--format json]`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{CliError, CliResult};

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Decode any Pramaan COSE message to readable text or JSON (claims named, bytes as hex).
    Inspect {
        /// The token file (raw COSE bytes).
        file: PathBuf,
        #[arg(long, default_value = "text")]
        format: String,
    },
}

pub fn run(cmd: TokenCmd) -> CliResult {
    match cmd {
        TokenCmd::Inspect { file, .. } => Err(CliError::new(format!(
            "token inspect {}: not built yet",
            file.display()
        ))),
    }
}
