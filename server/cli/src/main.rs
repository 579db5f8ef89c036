//! The `pramaan` command (design section 9).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = pramaan_cli::Cli::parse();
    match pramaan_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pramaan: {e:#}");
            ExitCode::FAILURE
        }
    }
}
