//! Command-line front end: one file per command group.
//!
//! Every command returns `anyhow`-free typed errors turned into one line on stderr and a
//! non-zero exit by `main`.

use clap::{Parser, Subcommand};

pub mod admin;
pub mod serve;
mod token;

/// Pramaan: evidence that official phones are kept, enrolled and in their groups.
#[derive(Debug, Parser)]
#[command(name = "pramaan", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect Pramaan tokens (any signed Pramaan message).
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Set up a server's data directory and mint bearer tokens.
    #[command(subcommand)]
    Admin(admin::AdminCmd),
    /// Run the verification server.
    Serve(serve::ServeArgs),
}

/// The error every command reports: one readable line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

pub type CliResult = Result<(), CliError>;

/// Runs one parsed command.
pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Token(cmd) => token::run(cmd),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Serve(args) => serve::run(args),
    }
}
