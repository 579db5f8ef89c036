//! `pramaan serve`: runs the server of a data directory until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, CliResult};
use pramaan_server::config::Config;
use pramaan_server::server;

/// What `pramaan serve --help` and `pramaan admin --help` say about the database.
pub const DATABASE_HELP: &str = "\
Database: SQLite DIR/pramaan.db by default. Several instances share one PostgreSQL \
database: set PRAMAAN_DATABASE_URL (or database_url in DIR/config.toml), e.g. \
postgresql://pramaan:PASSWORD@db.example:5432/pramaan, and PRAMAAN_DATABASE_CA (or \
database_ca) to the PEM CA of the database's certificate for verified TLS. Each instance \
runs on a copy of the data directory of the one `pramaan admin init` (docs/deploy.md).";

/// `pramaan serve`.
#[derive(Debug, Args)]
#[command(after_help = DATABASE_HELP)]
pub struct ServeArgs {
    /// Data directory made by `pramaan admin init`.
    #[arg(long, env = "PRAMAAN_DATA")]
    pub data: PathBuf,
    /// Address to listen on (default: config.toml `listen`, PRAMAAN_LISTEN, 127.0.0.1:8443).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// Runs `pramaan serve` until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> CliResult {
    let mut config = Config::load(&args.data).map_err(|e| CliError::new(e.to_string()))?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let running =
        server::start_with_config(&args.data, config).map_err(|e| CliError::new(e.to_string()))?;
    eprintln!(
        "pramaan: serving {} on {} (pin {}), store: {}",
        running.public_url,
        running.addr,
        pramaan_core::encoding::b64url(&running.pin),
        running.store_label
    );
    running
        .wait_for_signal()
        .map_err(|e| CliError::new(e.to_string()))
}
