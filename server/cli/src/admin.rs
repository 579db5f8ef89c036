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

/// What to do after `admin init`, with the paths it wrote: serve, use the admin token,
/// then set up a department (an IT token, its policy and registry) and issue a phone's
/// enrollment token. Every line is a command that works as printed once the placeholders
/// in capitals are filled in.
pub fn next_steps(out: &server::InitOutput, host: &str) -> String {
    let data = out.data_dir.display();
    let ca = out.cert_path.display();
    format!(
        "Next steps:\n\
         \x20 1. Start the server (keep it running):\n\
         \x20      pramaan serve --data {data}\n\
         \x20 2. In another terminal, reach it with the admin token:\n\
         \x20      export PRAMAAN_SERVER=https://{host}:8443 PRAMAAN_CA={ca}\n\
         \x20      export PRAMAAN_TOKEN=ADMIN-TOKEN   # the admin token printed last\n\
         \x20 3. Give department IT its own token (its work is confined to its department):\n\
         \x20      pramaan admin token --data {data} --role it --department DEPT\n\
         \x20 4. Set the department's policy and import its registry of officers:\n\
         \x20      pramaan policy set POLICY.toml\n\
         \x20      pramaan officers import OFFICERS.csv\n\
         \x20 5. Issue an officer's enrollment QR code (the phone scans it):\n\
         \x20      pramaan enroll-token --officer OFFICER-ID --png OFFICER-ID.png\n\
         \x20 Then `pramaan compliance --department DEPT` shows who is compliant.\n"
    )
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
            out!("{}", next_steps(&out, &host));
            // The token stays the last line (scripts take it with `tail -1`).
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
