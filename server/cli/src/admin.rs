//! `pramaan admin init`, `pramaan admin token` and `pramaan admin tokens list|revoke`:
//! setting up a server's data directory and the lifecycle of bearer tokens; `backup` and
//! `restore` are in `backup.rs`.
//!
//! `init` and `token` work offline (directly on the data directory), so the first admin
//! token exists before any server runs. `tokens list|revoke` work either way, chosen by
//! what is given: `--data DIR` works on the database directly (also while a server runs
//! on it; an admin who lost every admin token can still revoke), otherwise the API is used
//! with `--server`/`--token` (or `PRAMAAN_SERVER`/`PRAMAAN_TOKEN`, an admin token).
//! `--data` is read from the flag only here, so an exported `PRAMAAN_DATA` never turns a
//! remote command into a local one.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pramaan_core::api::{TokenInfo, TokenList};
use pramaan_core::text::for_terminal;

use super::client::ServerArgs;
use super::enroll_token::rfc3339;
use super::{CliError, CliResult};
use pramaan_server::auth::TokenId;
use pramaan_server::credentials::{self, NewToken};
use pramaan_server::server;
use pramaan_server::store::Role;

/// `pramaan admin init|token`.
#[derive(Debug, Subcommand)]
#[command(after_help = super::serve::DATABASE_HELP)]
pub enum AdminCmd {
    /// Create keys, self-signed TLS (local CA + server certificate), the database and the
    /// first admin token. With PRAMAAN_DATABASE_URL: once per deployment (a database that
    /// already holds one is refused); copy the directory to the other instances.
    #[command(after_help = super::serve::DATABASE_HELP)]
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
    #[command(after_help = super::serve::DATABASE_HELP)]
    Token {
        /// The server's data directory (made by `pramaan admin init`).
        #[arg(long, env = "PRAMAAN_DATA")]
        data: PathBuf,
        /// it, auditor or admin.
        #[arg(long)]
        role: Role,
        /// The department (required for it, refused for the others). It must have a
        /// policy or an officer, unless --new-department.
        #[arg(long)]
        department: Option<String>,
        /// Mint the IT token for a department that has no policy or officer yet (a new
        /// department's IT sets them up with it).
        #[arg(long)]
        new_department: bool,
        /// A readable name, shown by `pramaan admin tokens list` (default
        /// `<role>[-<department>]-<date>`, e.g. it-GAD-2026-11-29).
        #[arg(long)]
        name: Option<String>,
        /// Refuse the token after this long: 90d, 12h, 30m, 2w (default: never expires).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List or revoke bearer tokens (locally with --data DIR, or over the API as admin).
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// Copy a SQLite data directory (database, keys, tls/, config.toml, with a manifest
    /// and checksums) into one file, also while the server runs. The file holds private
    /// keys (mode 0600).
    Backup {
        /// The server's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The backup file to write (replaced atomically).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into a data directory whose server is stopped (an existing one is
    /// moved aside, never deleted). Refuses a damaged copy, and one whose log does not
    /// hold a checkpoint already published.
    Restore {
        /// The backup file (`pramaan admin backup`).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The data directory to restore into.
        #[arg(long)]
        data: PathBuf,
        /// A checkpoint already published (`pramaan audit pull --save-checkpoint`, or
        /// `GET /v1/audit/checkpoint`): the backup must hold it. Repeat for more.
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        published: Vec<PathBuf>,
    },
    /// Renew the server's TLS certificate with the same key (phones need nothing), or
    /// stage a new key with --new-key --transition (phones learn it while checking in).
    /// Running servers pick the change up within seconds, without a restart.
    RenewCert(super::renew_cert::RenewCertArgs),
    /// Rotate a signing key: `answer` (signs answers to phones) or `log` (signs the audit
    /// log's checkpoints); also while servers run on the directory.
    #[command(subcommand)]
    RotateKey(super::rotate_key::RotateKeyCmd),
}

/// `pramaan admin tokens list|revoke`.
#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// Every bearer token: id, name, role, department, created, by, expiry, state (never
    /// the token).
    List {
        /// Where the tokens are.
        #[command(flatten)]
        at: TokensAt,
    },
    /// Revoke a bearer token: refused on its next request. The last usable admin token
    /// cannot be revoked.
    Revoke {
        /// The token's id (8 hex digits, as `list` shows, or its log label `role:id`).
        id: String,
        /// Where the tokens are.
        #[command(flatten)]
        at: TokensAt,
    },
}

/// Where `admin tokens` works: the data directory, or a server's API (the usual server
/// options, optional here: with `--data` none is needed).
#[derive(Debug, Args)]
#[command(
    mut_arg("server", |a| a.required(false).default_value("").hide_default_value(true)),
    mut_arg("token", |a| a.required(false).default_value("").hide_default_value(true))
)]
pub struct TokensAt {
    /// Work on this data directory's database directly (no server needed; a running one
    /// sees the change on its next request). Without it, the API is used with an admin
    /// token.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// How to reach and trust the server (without --data).
    #[command(flatten)]
    server: ServerArgs,
}

impl TokensAt {
    /// The API client, when no `--data` was given.
    fn client(&self) -> Result<super::client::Client, CliError> {
        if self.server.server.trim().is_empty() || self.server.token.trim().is_empty() {
            return Err(CliError::new(
                "give --data DIR (the server's data directory), or --server URL with an admin \
                 --token (or PRAMAAN_SERVER and PRAMAAN_TOKEN)",
            ));
        }
        self.server.client()
    }
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
            outln!("Store:           {}", out.store_label);
            if out.shared_database {
                outln!(
                    "Other instances: copy {} to each (keys, tls/, config.toml; mode 0700) and \
                     run `pramaan serve` there with the same PRAMAAN_DATABASE_URL \
                     (docs/deploy.md); never run `admin init` again on this database.",
                    out.data_dir.display()
                );
            }
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
            new_department,
            name,
            expires_in,
        } => {
            let expires_in = expires_in
                .as_deref()
                .map(pramaan_core::duration::parse_duration)
                .transpose()
                .map_err(|e| CliError::new(format!("--expires-in: {e}")))?;
            let minted = server::create_token_with(
                &data,
                &NewToken {
                    role,
                    department: department.as_deref(),
                    name: name.as_deref(),
                    expires_in,
                    new_department,
                    by: credentials::ADMIN_CLI,
                },
            )
            .map_err(|e| CliError::new(e.to_string()))?;
            outln!("{}", minted.secret);
            eprintln!(
                "token {} ({}){}",
                TokenId::of(&minted.row.hash),
                for_terminal(minted.row.name.as_deref().unwrap_or("")),
                minted
                    .row
                    .expires_at
                    .map(|e| format!(", expires {}", rfc3339(e)))
                    .unwrap_or_default()
            );
            Ok(())
        }
        AdminCmd::Tokens(cmd) => run_tokens(cmd),
        AdminCmd::Backup { data, out } => super::backup::run_backup(&data, &out),
        AdminCmd::Restore {
            from,
            data,
            published,
        } => super::backup::run_restore(&from, &data, &published),
        AdminCmd::RenewCert(args) => super::renew_cert::run(args),
        AdminCmd::RotateKey(cmd) => super::rotate_key::run(cmd),
    }
}

fn run_tokens(cmd: TokensCmd) -> CliResult {
    let err = |e: server::ServerError| CliError::new(e.to_string());
    match cmd {
        TokensCmd::List { at } => {
            let tokens = match at.data {
                Some(data) => server::list_tokens(&data).map_err(err)?,
                None => {
                    let client = at.client()?;
                    let list: TokenList =
                        super::client::typed("/v1/tokens", client.get_json("/v1/tokens")?)?;
                    list.tokens
                }
            };
            print_tokens(&tokens, pramaan_server::api::now());
            Ok(())
        }
        TokensCmd::Revoke { id, at } => {
            let id: TokenId = id.parse().map_err(CliError::new)?;
            let info = match at.data {
                Some(data) => server::revoke_token(&data, id).map_err(err)?,
                None => {
                    let client = at.client()?;
                    let path = format!("/v1/tokens/{id}/revoke");
                    client.post_typed(&path, &serde_json::json!({}))?
                }
            };
            outln!(
                "token {} ({}) revoked; it is refused from its next request",
                info.id,
                for_terminal(info.name.as_deref().unwrap_or(""))
            );
            Ok(())
        }
    }
}

/// Where a token stands at `now`: `active`, `expired` or `revoked`.
fn token_state(t: &TokenInfo, now: u64) -> &'static str {
    if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|e| now >= e) {
        "expired"
    } else {
        "active"
    }
}

fn print_tokens(tokens: &[TokenInfo], now: u64) {
    outln!(
        "ID        STATE    ROLE     DEPARTMENT  NAME                      CREATED               BY               EXPIRES               REVOKED"
    );
    for t in tokens {
        let time = |v: Option<u64>| v.map(rfc3339).unwrap_or_else(|| "-".into());
        outln!(
            "{:<9} {:<8} {:<8} {:<11} {:<25} {:<21} {:<16} {:<21} {}",
            for_terminal(&t.id),
            token_state(t, now),
            for_terminal(&t.role),
            for_terminal(t.department.as_deref().unwrap_or("-")),
            for_terminal(t.name.as_deref().unwrap_or("-")),
            rfc3339(t.created_at),
            for_terminal(t.created_by.as_deref().unwrap_or("-")),
            time(t.expires_at),
            match (&t.revoked_at, &t.revoked_by) {
                (Some(at), Some(by)) => format!("{} by {}", rfc3339(*at), for_terminal(by)),
                (Some(at), None) => rfc3339(*at),
                _ => "-".into(),
            }
        );
    }
}
