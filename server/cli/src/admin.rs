//! `pramaan admin init` and `pramaan admin token`: setting up a server's data directory
//! and minting bearer tokens, both offline (directly on the data directory), so the first
//! admin token exists before any server runs.

use std::path::PathBuf;

use clap::Subcommand;

use super::{CliError, CliResult};
use pramaan_server::server;
use pramaan_server::store::Role;

/// `pramaan admin init|token`.
#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Create keys, self-signed TLS (local CA + server certificate), the database and the
    /// first admin token.
    Init {
        /// Data directory to create.
        #[arg(long, env = "PRAMAAN_DATA")]
        data: PathBuf,
        /// Host name for the certificate (localhost, 127.0.0.1 and ::1 are always added).
        #[arg(long, default_value = "localhost")]
        host: String,
        /// The audit log's origin (checkpoints' first line, the log key's name); default
        /// `<host>/pramaan-log/<8 hex of the checkpoint key's fingerprint>`, unique to this
        /// deployment. No spaces, control characters or '+'.
        #[arg(long)]
        log_origin: Option<String>,
    },
    /// Create a bearer token; prints the token alone on stdout.
    Token {
        /// The server's data directory (made by `pramaan admin init`).
        #[arg(long, env = "PRAMAAN_DATA")]
        data: PathBuf,
        /// it, auditor or admin.
        #[arg(long)]
        role: Role,
        /// The department (required for it, refused for the others).
        #[arg(long)]
        department: Option<String>,
    },
}

/// Runs one `admin` command.
pub fn run(cmd: AdminCmd) -> CliResult {
    match cmd {
        AdminCmd::Init {
            data,
            host,
            log_origin,
        } => {
            let out = server::admin_init_with_origin(&data, &host, log_origin.as_deref())
                .map_err(|e| CliError::new(e.to_string()))?;
            outln!("Initialized {}", out.data_dir.display());
            outln!(
                "TLS certificate: {} (CA: {})",
                out.cert_path.display(),
                out.ca_path.display()
            );
            outln!("SPKI pin:        {}", out.pin_b64url);
            outln!("Log origin:      {}", out.log_origin);
            outln!("Log key:         {}", out.log_vkey);
            outln!();
            outln!("Admin token (shown once, store it safely):");
            outln!("{}", out.admin_token);
            Ok(())
        }
        AdminCmd::Token {
            data,
            role,
            department,
        } => {
            let token = server::create_token(&data, role, department.as_deref())
                .map_err(|e| CliError::new(e.to_string()))?;
            outln!("{token}");
            Ok(())
        }
    }
}
