//! pramaan-cli: the `pramaan` command (design section 9), one file per command group.
//!
//! Every command returns `anyhow`-free typed errors turned into one line on stderr and a
//! non-zero exit by `main`.
//!
//! The client, agent, audit, token and evidence commands speak HTTPS through
//! `pramaan_core::transport` and verify with `pramaan_core` and `pramaan_tlog` only. The
//! commands that run a server (`admin`, `serve`, `demo`, `bench`) need feature `server`
//! (on by default), so that `cargo build -p pramaan-cli --no-default-features` gives IT,
//! auditors and the desktop agent a `pramaan` without axum, rusqlite or rcgen.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use clap::{Parser, Subcommand};

#[macro_use]
pub mod out;

#[cfg(feature = "server")]
pub mod admin;
pub mod audit;
pub mod audit_show;
#[cfg(feature = "server")]
pub mod backup;
#[cfg(feature = "server")]
pub mod bench;
pub mod client;
pub mod compliance;
#[cfg(feature = "server")]
pub mod demo;
pub mod device;
pub mod devices;
pub mod enroll_token;
pub mod evidence;
pub mod officers;
pub mod platforms;
pub mod policy;
#[cfg(feature = "server")]
pub mod renew_cert;
pub mod roster;
#[cfg(feature = "server")]
pub mod rotate_key;
#[cfg(feature = "server")]
pub mod rotate_log_key;
#[cfg(feature = "server")]
pub mod serve;
mod token;
#[cfg(feature = "server")]
pub mod witness;

/// Pramaan: evidence that official phones are kept, enrolled and in their groups.
#[derive(Debug, Parser)]
#[command(name = "pramaan", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `pramaan` command group.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect Pramaan tokens (any signed Pramaan message).
    #[command(subcommand)]
    Token(token::TokenCmd),
    #[cfg(feature = "server")]
    /// Set up a server's data directory and mint bearer tokens.
    #[command(subcommand)]
    Admin(admin::AdminCmd),
    #[cfg(feature = "server")]
    /// Run the verification server.
    Serve(serve::ServeArgs),
    #[cfg(feature = "server")]
    /// Measure attestations per second over TLS against the crypto-only ceiling, or
    /// (--server URL) load, crash-test and soak a running server.
    Bench(bench::BenchArgs),
    /// Manage the registry of officers (who is entitled to a GR-funded phone).
    #[command(subcommand)]
    Officers(officers::OfficersCmd),
    /// Set or show a department's policy (email domains, platforms, groups).
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// List the built-in catalog of messaging platforms a policy may name.
    #[command(subcommand)]
    Platforms(platforms::PlatformsCmd),
    /// Upload a communication group's roster of handles.
    #[command(subcommand)]
    Roster(roster::RosterCmd),
    /// Issue a one-time enrollment token for an officer's phone (URI and QR code).
    EnrollToken(enroll_token::EnrollTokenCmd),
    /// Show who is compliant in a department, with the failing rules.
    Compliance(compliance::ComplianceCmd),
    /// Manage enrolled devices.
    #[command(subcommand)]
    Devices(devices::DevicesCmd),
    #[cfg(feature = "server")]
    /// Run a server with a demo department and simulated phones, until Ctrl-C.
    ///
    /// Everything on an embedded default: a temporary data directory, the GAD demo
    /// department (policy, registry, roster) and simulated phones enrolled through the
    /// real protocol; prints the compliance table, the dashboard URL and tokens.
    Demo(demo::DemoCmd),
    /// The desktop agent: enroll, attest, status (software key, facts from a file).
    #[command(subcommand)]
    Device(device::DeviceCmd),
    /// Pull the audit log into an offline bundle, and verify bundles offline.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Verify platform evidence (Android Key Attestation, Apple App Attest) at a given
    /// time; install and show the server's copy of Google's revocation status list.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCmd),
    #[cfg(feature = "server")]
    /// Run a witness: an independent office (e.g. the audit department) cosigns the log's
    /// checkpoints only while the log stays append-only, so no server can show two
    /// auditors two different logs.
    #[command(subcommand)]
    Witness(witness::WitnessCmd),
}

/// The error every command reports: one readable line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// What every command returns.
pub type CliResult = Result<(), CliError>;

/// Runs one parsed command.
pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Token(cmd) => token::run(cmd),
        #[cfg(feature = "server")]
        Command::Admin(cmd) => admin::run(cmd),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::run(args),
        #[cfg(feature = "server")]
        Command::Bench(args) => bench::run(args),
        Command::Officers(cmd) => officers::run(cmd),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Platforms(cmd) => platforms::run(cmd),
        Command::Roster(cmd) => roster::run(cmd),
        Command::EnrollToken(cmd) => enroll_token::run(cmd),
        Command::Compliance(cmd) => compliance::run(cmd),
        Command::Devices(cmd) => devices::run(cmd),
        #[cfg(feature = "server")]
        Command::Demo(cmd) => demo::run(cmd),
        Command::Device(cmd) => device::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Evidence(cmd) => evidence::run(cmd),
        #[cfg(feature = "server")]
        Command::Witness(cmd) => witness::run(cmd),
    }
}
