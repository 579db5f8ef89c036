//! `pramaan witness init` and `pramaan witness serve`: a C2SP tlog-witness for Pramaan
//! logs (design sections 7 and 9).
//!
//! Why: the log's own signature cannot stop its operator, or anyone holding a copy of its
//! data directory, from showing two auditors two different logs. A witness run by an
//! independent office (the audit department, not the server's operators) cosigns a
//! checkpoint only if it extends the last one it cosigned; auditors who require its
//! cosignature (`pramaan audit verify --witness-key`) all see the same log.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;

use super::{CliError, CliResult};
use pramaan_server::witness;
use pramaan_tlog::VerifierKey;

/// Default witness listen address.
pub const DEFAULT_WITNESS_LISTEN: &str = "127.0.0.1:8444";

/// `pramaan witness init|serve`.
#[derive(Debug, Subcommand)]
pub enum WitnessCmd {
    /// Create the witness's cosigning key and TLS identity; prints its verifier key and pin.
    ///
    /// Give the printed key and pin to the log's operators (`[[witnesses]]` in the
    /// server's config.toml) and the key to auditors (`audit verify --witness-key`).
    Init {
        /// The witness's directory to create.
        #[arg(long)]
        data: PathBuf,
        /// The witness's name, e.g. `audit.gujarat.gov.in/witness` (no spaces or '+').
        #[arg(long)]
        name: String,
        /// Host name for the TLS certificate (localhost, 127.0.0.1 and ::1 are added).
        #[arg(long, default_value = "localhost")]
        host: String,
    },
    /// Serve `POST /add-checkpoint` for the given logs until Ctrl-C or SIGTERM.
    Serve {
        /// The witness's directory (made by `pramaan witness init`).
        #[arg(long)]
        data: PathBuf,
        /// A log's verifier key file (the server's `DATA/log.vkey`); repeat for more logs.
        #[arg(long = "log-key", value_name = "FILE", required = true)]
        log_keys: Vec<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = DEFAULT_WITNESS_LISTEN)]
        listen: SocketAddr,
    },
}

/// Runs one `witness` command.
pub fn run(cmd: WitnessCmd) -> CliResult {
    match cmd {
        WitnessCmd::Init { data, name, host } => {
            let out =
                witness::init(&data, &name, &host).map_err(|e| CliError::new(e.to_string()))?;
            outln!("Initialized witness {}", data.display());
            outln!(
                "TLS certificate: {} (CA: {})",
                out.cert_path.display(),
                out.ca_path.display()
            );
            outln!("SPKI pin:        {}", out.pin_b64url);
            outln!("Witness key:     {}", out.vkey);
            Ok(())
        }
        WitnessCmd::Serve {
            data,
            log_keys,
            listen,
        } => {
            let logs = log_keys
                .iter()
                .map(|p| {
                    let text = super::client::read_text(p)?;
                    VerifierKey::parse(&text).map_err(|e| {
                        CliError::new(format!(
                            "{}: {e} (expected a log's verifier key, DATA/log.vkey)",
                            p.display()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let names: Vec<String> = logs.iter().map(VerifierKey::label).collect();
            let running =
                witness::start(&data, logs, listen).map_err(|e| CliError::new(e.to_string()))?;
            eprintln!(
                "pramaan: witness {} serving {} for {} (pin {})",
                running.witness.verifier_key(),
                running.url,
                names.join(", "),
                pramaan_core::encoding::b64url(&running.pin)
            );
            running
                .wait_for_signal()
                .map_err(|e| CliError::new(e.to_string()))
        }
    }
}
