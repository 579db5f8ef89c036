//! Setting up a data directory and running the server, in-process or from `pramaan serve`.
//!
//! Why an in-process starter: the end-to-end tests, `pramaan demo` and `pramaan bench`
//! all need a real server over real TLS on loopback without spawning a binary. [`start`]
//! binds the socket synchronously (so port 0 works and the real port is known at once),
//! runs axum on its own tokio runtime thread, and returns a [`Running`] handle that stops
//! the server when shut down or dropped.
//!
//! Data directory layout (`pramaan admin init`):
//! `server.key` (Ed25519 identity that signs device answers, 0600), `log.key` (Ed25519
//! checkpoint key of the audit log, 0600), `nonce.key` (HMAC key of the stateless server
//! nonces, 0600; made on first start in older directories), `tls/cert.pem` (leaf then CA), `tls/key.pem`
//! (0600), `tls/ca.pem`, `tls/ca.key` (0600, the local CA's key; `tls/next/` and
//! `tls/retired/` during and after a TLS key change, [`crate::cert_renewal`]), `pramaan.db`
//! (SQLite, WAL), `log.vkey` (C2SP verifier key of the audit log: its name is the log's
//! origin), `config.toml`, `serve.lock` (held by running servers: [`ServeLock`]).
//!
//! The store is SQLite `pramaan.db` unless the configuration names a PostgreSQL database
//! (`database_url`, `PRAMAAN_DATABASE_URL`; [`open_configured_store`]): then every
//! instance of a deployment runs on a copy of the same data directory (the keys above,
//! `tls/`, `config.toml`) and the same database, and `pramaan.db` is not used. Why a copy
//! and not a second `admin init`: the keys are the deployment's identity (devices pin the
//! TLS certificate and check receipts against `server.key`, auditors hold `log.vkey`), so
//! `admin init` refuses a database that already holds a deployment.
//!
//! Why a separate checkpoint key: a checkpoint is the server's word on the whole log, and
//! the identity key signs every device answer; keeping them apart means a receipt can
//! never pass for a checkpoint signature, and the log key can be guarded (and later
//! rotated) on its own. Why an origin unique to the deployment: two installs with the same
//! host used to share the origin `localhost/pramaan-log`, so a checkpoint of one could be
//! shown as the other's; the default origin now carries the log key's fingerprint. A data
//! directory made before `log.key` existed keeps signing checkpoints with `server.key`
//! (its published `log.vkey` stays valid) and says so at startup.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pramaan_core::ServerKey;
use pramaan_core::fsutil::write_atomic;

use crate::api::{self, AppState, Shared};
use crate::auth;
use crate::config::{Config, ConfigError};
use crate::credentials;
use crate::metrics::Metrics;
use crate::store::{
    PostgresStore, Role, SqliteStore, Store, StoreError, read_transaction, transaction,
};
use crate::tls::{self, TlsError};

/// Why the server could not be set up or started.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Reading or writing a file of the data directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// `admin init` found a server already set up in the directory (the path named).
    #[error("{0} already exists; refusing to overwrite an existing server's keys")]
    Exists(String),
    /// The directory (named) has no server: run `pramaan admin init` first.
    #[error("{0} is not an initialized data directory (run `pramaan admin init --data DIR`)")]
    NotInitialized(String),
    /// The configured PostgreSQL database (named, redacted) holds no deployment: it has
    /// no bearer token, so `admin init` never ran on it.
    #[error(
        "the database {0} holds no deployment (no bearer token): run `pramaan admin init` \
         with this database once, then copy that data directory to every instance \
         (docs/deploy.md)"
    )]
    DatabaseNotInitialized(String),
    /// `admin init` was pointed at a PostgreSQL database (named, redacted) that already
    /// holds a deployment: a second set of keys would fork it.
    #[error(
        "the database {0} is already initialized (it holds tokens or log entries): copy the \
         data directory of the first instance to this machine instead, see docs/deploy.md"
    )]
    DatabaseAlreadyInitialized(String),
    /// The server's Ed25519 identity key (`server.key`) cannot be made or loaded.
    #[error("server key: {0}")]
    Key(#[from] pramaan_core::KeyError),
    /// The TLS certificate or key cannot be made or loaded.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// `config.toml` or a `PRAMAAN_*` variable is invalid.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A bad argument (e.g. an IT token without a department), or the random number
    /// generator failed.
    #[error("{0}")]
    Invalid(String),
    /// A credential change refused (unknown department, last admin token, ...).
    #[error(transparent)]
    Credential(#[from] crate::credentials::CredentialError),
    /// The listen address cannot be bound (in use, or not this machine's), or the runtime
    /// or its thread could not be started.
    #[error(transparent)]
    Serve(#[from] crate::serving::ServeError),
    /// The TLS certificate cannot be renewed, staged or served.
    #[error("TLS certificate: {0}")]
    Cert(#[from] crate::cert_renewal::CertError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |source| ServerError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// File names inside a data directory.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The data directory itself.
    pub dir: PathBuf,
}

impl Paths {
    /// The paths of the data directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }
    /// `server.key`: the server's Ed25519 signing key (mode 0600).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    /// `nonce.key`: the key that stamps server nonces (mode 0600; [`crate::nonce`]).
    pub fn nonce_key(&self) -> PathBuf {
        self.dir.join("nonce.key")
    }
    /// `tls/`: the TLS certificates and key.
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }
    /// `tls/cert.pem`: the server certificate followed by the CA.
    pub fn cert(&self) -> PathBuf {
        self.tls_dir().join("cert.pem")
    }
    /// `tls/key.pem`: the server certificate's private key (mode 0600).
    pub fn tls_key(&self) -> PathBuf {
        self.tls_dir().join("key.pem")
    }
    /// `tls/ca.pem`: the local CA certificate alone.
    pub fn ca(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }
    /// `tls/ca.key`: the local CA's private key (mode 0600), kept so `admin renew-cert`
    /// issues under the same CA. Absent in directories made before it was kept.
    pub fn ca_key(&self) -> PathBuf {
        self.tls_dir().join("ca.key")
    }
    /// `tls/next/`: a new TLS key and certificate staged by `admin renew-cert --new-key`,
    /// served from the time in `tls/next/takes_over_at` ([`crate::cert_renewal`]).
    pub fn tls_next_dir(&self) -> PathBuf {
        self.tls_dir().join("next")
    }
    /// `tls/next/cert.pem`: the staged certificate followed by the CA.
    pub fn next_cert(&self) -> PathBuf {
        self.tls_next_dir().join("cert.pem")
    }
    /// `tls/next/key.pem`: the staged certificate's private key (mode 0600).
    pub fn next_tls_key(&self) -> PathBuf {
        self.tls_next_dir().join("key.pem")
    }
    /// `tls/next/takes_over_at`: when the staged key is served, Unix seconds (written
    /// last: without it nothing is staged).
    pub fn next_takeover(&self) -> PathBuf {
        self.tls_next_dir().join("takes_over_at")
    }
    /// `tls/retired/`: certificates and keys replaced by a key change, kept (one
    /// directory per change, named by its Unix time).
    pub fn tls_retired_dir(&self) -> PathBuf {
        self.tls_dir().join("retired")
    }
    /// `pramaan.db`: the SQLite database.
    pub fn db(&self) -> PathBuf {
        self.dir.join("pramaan.db")
    }
    /// `log.key`: the audit log's Ed25519 checkpoint key (mode 0600). Absent in data
    /// directories made before it existed (their checkpoints are signed by `server.key`).
    pub fn log_key(&self) -> PathBuf {
        self.dir.join("log.key")
    }
    /// `log.vkey`: the audit log's C2SP verifier key, for auditors.
    pub fn log_vkey(&self) -> PathBuf {
        self.dir.join("log.vkey")
    }
    /// `log-keys.json`: every checkpoint key the log had, first to current, with each
    /// rotation's entry and handover checkpoint ([`crate::log_keys`]); absent until the
    /// first rotation.
    pub fn log_keys(&self) -> PathBuf {
        self.dir.join("log-keys.json")
    }
    /// `log.key.next-<hex key id>`: a new checkpoint key while its rotation is under way
    /// (mode 0600; one file per key, so two rotations never touch each other's).
    pub fn log_key_next(&self, key_id: &[u8; 4]) -> PathBuf {
        self.dir
            .join(format!("log.key.next-{}", hex::encode(key_id)))
    }
    /// `config.toml`: the server configuration.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    /// `serve.lock`: held shared by every `pramaan serve` on the directory, exclusive by
    /// `pramaan admin restore` ([`ServeLock`]).
    pub fn serve_lock(&self) -> PathBuf {
        self.dir.join("serve.lock")
    }
    /// `answer-keys.json`: every rotation of the answer key ([`crate::answer_keys`]);
    /// absent until the first.
    pub fn answer_chain(&self) -> PathBuf {
        self.dir.join("answer-keys.json")
    }
    /// `answer-keys/`: old answer keys kept for v1 devices, and the next key during a
    /// rotation (mode 0600 files).
    pub fn answer_keys_dir(&self) -> PathBuf {
        self.dir.join("answer-keys")
    }
    /// `answer-keys/next.key`: the new answer key while a rotation is under way.
    pub fn answer_next_key(&self) -> PathBuf {
        self.answer_keys_dir().join("next.key")
    }
    /// `answer-keys/<public key hex>.key`: an old answer key kept for v1 devices.
    pub fn answer_kept_key(&self, public_hex: &str) -> PathBuf {
        self.answer_keys_dir().join(format!("{public_hex}.key"))
    }
}

/// A lock on a data directory's `serve.lock`, released when dropped (or when the process
/// ends, however it ends: the operating system drops it).
///
/// Why: `pramaan admin restore` replaces a data directory, which must never happen under
/// a running server (it would keep writing to the old database, and sign checkpoints of
/// a log the directory no longer holds). Every server holds the lock shared (several
/// instances may share one directory), restore takes it exclusive and refuses when it
/// cannot.
#[derive(Debug)]
pub struct ServeLock {
    _file: std::fs::File,
}

impl ServeLock {
    /// The shared lock a server holds while it runs; refused while a restore holds it.
    pub fn shared(paths: &Paths) -> Result<Self, ServerError> {
        let file = Self::open(paths)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(ServerError::Invalid(format!(
                "{} is being restored (`pramaan admin restore` holds {}): start the \
                 server when it has finished",
                paths.dir.display(),
                paths.serve_lock().display()
            ))),
            Err(std::fs::TryLockError::Error(source)) => Err(ServerError::Io {
                path: paths.serve_lock().display().to_string(),
                source,
            }),
        }
    }

    /// The exclusive lock of a restore: `Ok(None)` if a server holds the directory.
    pub fn exclusive(paths: &Paths) -> Result<Option<Self>, ServerError> {
        let file = Self::open(paths)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(source)) => Err(ServerError::Io {
                path: paths.serve_lock().display().to_string(),
                source,
            }),
        }
    }

    fn open(paths: &Paths) -> Result<std::fs::File, ServerError> {
        let path = paths.serve_lock();
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))
    }
}

/// The log's origin (checkpoint first line and note key name) of data directories made
/// before origins were unique (no `log.key`): `<host>/pramaan-log`.
pub fn log_origin(host: &str) -> String {
    format!("{host}/pramaan-log")
}

/// The default origin of a new log: `<host>/pramaan-log/<fingerprint>`, where the
/// fingerprint is the first 8 hex digits of SHA-256 of the checkpoint key's public key,
/// so two deployments never share an origin even with the same host name.
pub fn unique_log_origin(host: &str, log_key: &ServerKey) -> String {
    let fp = auth::hash_secret(&log_key.public_key());
    format!("{}/{}", log_origin(host), hex::encode(&fp[..4]))
}

/// Longest origin `--log-origin` accepts (a checkpoint's first line).
pub const MAX_LOG_ORIGIN: usize = 200;

/// The checkpoint signer of `origin`, refusing a name a signed note cannot carry.
fn log_signer(origin: &str, key: ServerKey) -> Result<crate::audit_log::LogSigner, ServerError> {
    if origin.len() > MAX_LOG_ORIGIN {
        return Err(ServerError::Invalid(format!(
            "log origin is {} bytes long; at most {MAX_LOG_ORIGIN}",
            origin.len()
        )));
    }
    crate::audit_log::LogSigner::try_new(origin.to_string(), key).map_err(|_| {
        ServerError::Invalid(format!(
            "log origin {origin:?} cannot name a signed note (it must be non-empty, \
             without spaces, control characters or '+')"
        ))
    })
}

/// What `admin init` made.
#[derive(Debug, Clone)]
pub struct InitOutput {
    /// The first admin token: shown once, only its SHA-256 is stored.
    pub admin_token: String,
    /// SHA-256 of the TLS certificate's SubjectPublicKeyInfo.
    pub pin: [u8; 32],
    /// The pin as base64url (what `--pin` and enrollment URIs carry).
    pub pin_b64url: String,
    /// The log's C2SP verifier key (also in `DIR/log.vkey`).
    pub log_vkey: String,
    /// The log's origin (the checkpoints' first line, the verifier key's name).
    pub log_origin: String,
    /// `DIR/tls/cert.pem`: the server certificate followed by the CA.
    pub cert_path: PathBuf,
    /// `DIR/tls/ca.pem`: the local CA certificate alone.
    pub ca_path: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The store it set up ([`store_label`]: a database URL's password hidden).
    pub store_label: String,
    /// Whether that store is a PostgreSQL database (shared by several instances).
    pub shared_database: bool,
}

/// `pramaan admin init`: creates the data directory, keys, TLS, database and the first
/// admin token, with the default log origin ([`unique_log_origin`]). Refuses to touch a
/// directory that already holds a server. The database is the one the directory's
/// configuration names ([`Config::load`]: a `config.toml` already there, or
/// `PRAMAAN_DATABASE_URL`), SQLite `pramaan.db` by default.
pub fn admin_init(data_dir: &Path, host: &str) -> Result<InitOutput, ServerError> {
    admin_init_with_origin(data_dir, host, None)
}

/// [`admin_init`] with the log's origin chosen (`--log-origin`); `None` is the default,
/// unique to the deployment. An origin a signed note cannot carry is refused before any
/// file is written.
pub fn admin_init_with_origin(
    data_dir: &Path,
    host: &str,
    origin: Option<&str>,
) -> Result<InitOutput, ServerError> {
    let config = Config::load(data_dir)?;
    admin_init_with_config(data_dir, host, origin, &config)
}

/// [`admin_init_with_origin`] on the database `config` names (only `database_url` and
/// `database_ca` are read). With PostgreSQL the database is migrated, and refused before
/// any file is written if it already holds a deployment (tokens or log entries:
/// [`ServerError::DatabaseAlreadyInitialized`]); the URL is not written into
/// `config.toml` (it may carry a password): each instance gets it from its own
/// `PRAMAAN_DATABASE_URL` or `config.toml`.
pub fn admin_init_with_config(
    data_dir: &Path,
    host: &str,
    origin: Option<&str>,
    config: &Config,
) -> Result<InitOutput, ServerError> {
    let host = host.trim();
    if host.is_empty() || host.contains(['/', ' ', '+']) {
        return Err(ServerError::Invalid(format!(
            "host {host:?} is not a host name"
        )));
    }
    let paths = Paths::new(data_dir);
    // The checkpoint key as PKCS#8, read twice: one copy signs, one is saved.
    let log_pkcs8 =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .map_err(|_| ServerError::Key(pramaan_core::KeyError::Rng))?;
    let log_key = ServerKey::from_pkcs8(log_pkcs8.as_ref())?;
    let origin = match origin.map(str::trim) {
        Some(o) => o.to_string(),
        None => unique_log_origin(host, &log_key),
    };
    let signer = log_signer(&origin, ServerKey::from_pkcs8(log_pkcs8.as_ref())?)?;
    let mut existing = vec![
        paths.server_key(),
        paths.log_key(),
        paths.tls_key(),
        paths.cert(),
    ];
    if config.database_url.is_none() {
        existing.push(paths.db());
    }
    for p in existing {
        if p.exists() {
            return Err(ServerError::Exists(p.display().to_string()));
        }
    }
    // PostgreSQL: migrated, and refused if taken, before any file is written. (SQLite's
    // file is made below, with the directory.)
    let label = store_label(&paths, config);
    let postgres = match &config.database_url {
        Some(_) => {
            let store = open_configured_store(&paths, config, false)?;
            read_transaction(store.as_ref(), |tx| refuse_a_deployment(tx, &label))?;
            Some(store)
        }
        None => None,
    };
    std::fs::create_dir_all(paths.tls_dir()).map_err(io_err(&paths.tls_dir()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700));
    }

    let key = ServerKey::generate()?;
    key.save(&paths.server_key())?;
    crate::nonce::NonceKey::load_or_create(&paths.nonce_key())
        .map_err(|e| ServerError::Invalid(e.to_string()))?;

    let generated = tls::generate(host)?;
    write_atomic(&paths.tls_key(), generated.key_pem.as_bytes(), 0o600)
        .map_err(io_err(&paths.tls_key()))?;
    write_atomic(&paths.cert(), generated.cert_chain_pem.as_bytes(), 0o644)
        .map_err(io_err(&paths.cert()))?;
    write_atomic(&paths.ca(), generated.ca_pem.as_bytes(), 0o644).map_err(io_err(&paths.ca()))?;
    write_atomic(&paths.ca_key(), generated.ca_key_pem.as_bytes(), 0o600)
        .map_err(io_err(&paths.ca_key()))?;

    if !paths.config().exists() {
        write_atomic(&paths.config(), Config::template(host).as_bytes(), 0o644)
            .map_err(io_err(&paths.config()))?;
    }

    log_key.save(&paths.log_key())?;
    let log_vkey = signer.verifier_key();
    write_atomic(&paths.log_vkey(), format!("{log_vkey}\n").as_bytes(), 0o644)
        .map_err(io_err(&paths.log_vkey()))?;

    let store = match postgres {
        Some(store) => store,
        None => open_configured_store(&paths, config, false)?,
    };
    let spec = credentials::NewToken {
        role: Role::Admin,
        department: None,
        name: Some("first-admin"),
        expires_in: None,
        new_department: false,
        by: credentials::ADMIN_CLI,
    };
    // Checked again in the minting transaction: of two `admin init`s racing on one
    // PostgreSQL database (writers are serialized there), the second is refused.
    let minted = transaction(store.as_ref(), |tx| {
        refuse_a_deployment(tx, &label)?;
        credentials::mint(tx, &spec, api::now()).map_err(ServerError::from)
    })?;
    credentials::log_minted(&minted.row);
    let admin_token = minted.secret;
    log::info!("initialized {}", paths.dir.display());
    Ok(InitOutput {
        admin_token,
        pin: generated.pin,
        pin_b64url: pramaan_core::encoding::b64url(&generated.pin),
        log_vkey,
        log_origin: origin,
        cert_path: paths.cert(),
        ca_path: paths.ca(),
        data_dir: paths.dir,
        store_label: label,
        shared_database: config.database_url.is_some(),
    })
}

/// [`ServerError::DatabaseAlreadyInitialized`] if the store holds a deployment: a bearer
/// token or a log entry.
fn refuse_a_deployment(tx: &mut dyn crate::store::Tx, label: &str) -> Result<(), ServerError> {
    if !tx.tokens()?.is_empty() || tx.log().size()? > 0 {
        return Err(ServerError::DatabaseAlreadyInitialized(label.to_string()));
    }
    Ok(())
}

/// Mints a bearer token offline (by [`credentials::ADMIN_CLI`]) on an open store: stores
/// its hash and appends an `ApiTokenIssued` log entry in the same transaction.
fn insert_token(
    store: &dyn Store,
    spec: &credentials::NewToken<'_>,
) -> Result<credentials::Minted, ServerError> {
    let now = api::now();
    let minted = transaction(store, |tx| credentials::mint(tx, spec, now))?;
    credentials::log_minted(&minted.row);
    Ok(minted)
}

/// Which store `config` names, for logs and errors: `SQLite DIR/pramaan.db`, or
/// `PostgreSQL URL` with the URL's password replaced ([`crate::store::postgres::redact_url`]).
pub fn store_label(paths: &Paths, config: &Config) -> String {
    match &config.database_url {
        Some(url) => format!("PostgreSQL {}", crate::store::postgres::redact_url(url)),
        None => format!("SQLite {}", paths.db().display()),
    }
}

/// Opens the store `config` names: the PostgreSQL database of `database_url` (over TLS
/// verified against `database_ca` when set; migrated, refused if newer than this binary),
/// else SQLite `DIR/pramaan.db` (made if missing). With `group_commit`, the writer
/// thread that batches device transactions is started (the server; offline commands
/// write one transaction and need none). Initialization is the caller's check
/// ([`open_initialized_store`]).
pub fn open_configured_store(
    paths: &Paths,
    config: &Config,
    group_commit: bool,
) -> Result<Arc<dyn Store>, ServerError> {
    match &config.database_url {
        Some(url) => {
            let store = Arc::new(PostgresStore::open(url, config.database_ca.as_deref())?);
            if group_commit {
                store.start_group_commit()?;
            }
            Ok(store)
        }
        None => {
            let store = Arc::new(SqliteStore::open(&paths.db())?);
            if group_commit {
                store.start_group_commit()?;
            }
            Ok(store)
        }
    }
}

/// The store of an initialized data directory (keys present; SQLite: `pramaan.db`
/// present; PostgreSQL: the database holds a bearer token, as `admin init` leaves it).
pub fn open_initialized_store(
    paths: &Paths,
    config: &Config,
    group_commit: bool,
) -> Result<Arc<dyn Store>, ServerError> {
    if !paths.server_key().exists() {
        return Err(ServerError::NotInitialized(paths.dir.display().to_string()));
    }
    if config.database_url.is_none() && !paths.db().exists() {
        return Err(ServerError::NotInitialized(format!(
            "{} (no pramaan.db, and no database_url in config.toml or {} names a \
             PostgreSQL database)",
            paths.dir.display(),
            crate::config::DATABASE_URL_ENV
        )));
    }
    let store = open_configured_store(paths, config, group_commit)?;
    if config.database_url.is_some()
        && read_transaction(store.as_ref(), |tx| tx.tokens())?.is_empty()
    {
        return Err(ServerError::DatabaseNotInitialized(store_label(
            paths, config,
        )));
    }
    Ok(store)
}

/// The store of an initialized data directory, as its configuration names it (offline
/// `admin` commands).
pub(crate) fn open_store(data_dir: &Path) -> Result<Arc<dyn Store>, ServerError> {
    let config = Config::load(data_dir)?;
    open_initialized_store(&Paths::new(data_dir), &config, false)
}

/// A new bearer token that never expires, named by default, for a department the caller
/// knows exists (demo, benchmarks, tests; IT tokens need a department). `pramaan admin
/// token` goes through [`create_token_with`], which checks the department.
pub fn create_token(
    data_dir: &Path,
    role: Role,
    department: Option<&str>,
) -> Result<String, ServerError> {
    let spec = credentials::NewToken {
        role,
        department,
        name: None,
        expires_in: None,
        new_department: true,
        by: credentials::ADMIN_CLI,
    };
    Ok(create_token_with(data_dir, &spec)?.secret)
}

/// `pramaan admin token`: a new bearer token as `spec` says (name, expiry, department
/// checked unless `new_department`).
pub fn create_token_with(
    data_dir: &Path,
    spec: &credentials::NewToken<'_>,
) -> Result<credentials::Minted, ServerError> {
    insert_token(open_store(data_dir)?.as_ref(), spec)
}

/// `pramaan admin tokens list --data DIR`: every bearer token (never a hash or secret).
/// Reads the database directly, also while a server runs on it.
pub fn list_tokens(data_dir: &Path) -> Result<Vec<pramaan_core::api::TokenInfo>, ServerError> {
    let store = open_store(data_dir)?;
    let rows = read_transaction(store.as_ref(), |tx| tx.tokens())?;
    Ok(rows.iter().map(credentials::token_info).collect())
}

/// `pramaan admin tokens revoke ID --data DIR`: revokes a bearer token directly in the
/// database (by [`credentials::ADMIN_CLI`]); a running server refuses it on its next
/// request (nothing is cached).
pub fn revoke_token(
    data_dir: &Path,
    id: auth::TokenId,
) -> Result<pramaan_core::api::TokenInfo, ServerError> {
    let store = open_store(data_dir)?;
    let now = api::now();
    let row = transaction(store.as_ref(), |tx| {
        credentials::revoke(tx, id, credentials::ADMIN_CLI, now)
    })?;
    credentials::log_revoked(&row, credentials::ADMIN_CLI);
    let mut info = credentials::token_info(&row);
    info.revoked_at = Some(now);
    info.revoked_by = Some(credentials::ADMIN_CLI.into());
    Ok(info)
}

/// The checkpoint signer of a data directory: `log.key` under the origin `log.vkey`
/// names (which must be that key's). A directory made before `log.key` existed keeps
/// signing with `server.key` under the origin it published (or `<host>/pramaan-log`
/// without a `log.vkey`), and a warning says so.
pub(crate) fn load_log_signer(
    paths: &Paths,
    config: &Config,
) -> Result<crate::audit_log::LogSigner, ServerError> {
    let published = match std::fs::read_to_string(paths.log_vkey()) {
        Ok(text) => Some(
            crate::audit_log::VerifierKey::parse(text.trim()).map_err(|e| {
                ServerError::Invalid(format!("{}: {e}", paths.log_vkey().display()))
            })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(ServerError::Io {
                path: paths.log_vkey().display().to_string(),
                source,
            });
        }
    };
    let (key, legacy) = if paths.log_key().exists() {
        (ServerKey::load(&paths.log_key())?, false)
    } else {
        log::warn!(
            "{} has no log.key (made by an older pramaan): checkpoints stay signed with \
             server.key so the published log.vkey stays valid",
            paths.dir.display()
        );
        (ServerKey::load(&paths.server_key())?, true)
    };
    let origin = match published {
        Some(vk) => {
            if vk.key != key.public_key() {
                return Err(ServerError::Invalid(format!(
                    "{} is not the verifier key of {}; restore the matching files",
                    paths.log_vkey().display(),
                    if legacy { "server.key" } else { "log.key" }
                )));
            }
            vk.name
        }
        None if legacy => log_origin(&config.host),
        None => {
            return Err(ServerError::NotInitialized(format!(
                "{} (log.key without log.vkey)",
                paths.dir.display()
            )));
        }
    };
    log_signer(&origin, key)
}

/// A server running on its own runtime thread. Dropping it stops the server.
#[derive(Debug)]
pub struct Running {
    /// `https://127.0.0.1:PORT` (the bound address).
    pub url: String,
    /// What enrollment URIs carry (from config `public_url`, or the bound address).
    pub public_url: String,
    /// SHA-256 of the TLS certificate's SubjectPublicKeyInfo (what clients pin).
    pub pin: [u8; 32],
    /// `tls/cert.pem`: leaf then CA (usable as `Trust::CaPem`).
    pub ca_pem: Vec<u8>,
    /// The address actually bound (the real port when 0 was asked).
    pub addr: SocketAddr,
    /// The server's data directory.
    pub data_dir: PathBuf,
    /// Which store it runs on ([`store_label`]: the database URL's password hidden).
    pub store_label: String,
    state: AppState,
    serving: crate::serving::Serving,
    /// Held while the server runs, so no restore replaces the directory under it.
    _serve_lock: ServeLock,
}

impl Running {
    /// The store (tests inspect rows and counts through it).
    pub fn store(&self) -> Arc<dyn crate::store::Store> {
        self.state.store.clone()
    }

    /// The handler state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish (up to 2 s), and joins the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Blocks until Ctrl-C (or SIGTERM), then shuts down (`pramaan serve`).
    pub fn wait_for_signal(mut self) -> Result<(), ServerError> {
        crate::serving::wait_for_shutdown_signal()?;
        log::info!("shutting down");
        self.stop();
        Ok(())
    }

    fn stop(&mut self) {
        self.serving.stop();
    }
}

/// Stops the server before the state is released: the runtime's tasks hold clones of the
/// state, so the last one (and with it the store and its database connections) is then
/// dropped here, on the caller's thread after the runtime has stopped, never on a runtime
/// thread while the server winds down (a blocking PostgreSQL client closed inside an
/// async context panicked, and a panic while unwinding aborts the process).
impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the server of `data_dir` on `listen` (port 0 picks a free port), with the
/// directory's configuration (`config.toml`, `PRAMAAN_*`).
pub fn start(data_dir: &Path, listen: SocketAddr) -> Result<Running, ServerError> {
    let mut config = Config::load(data_dir)?;
    config.listen = listen;
    start_with_config(data_dir, config)
}

/// Starts the server with an explicit configuration (tests change TTLs this way).
pub fn start_with_config(data_dir: &Path, config: Config) -> Result<Running, ServerError> {
    // builder_with_provider does not need a process default, but other rustls users in the
    // same process might; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    config.connections.validate()?;
    let paths = Paths::new(data_dir);
    if !paths.server_key().exists() {
        return Err(ServerError::NotInitialized(paths.dir.display().to_string()));
    }
    let serve_lock = ServeLock::shared(&paths)?;
    let answer_keys = crate::answer_keys::AnswerKeys::load(&paths)
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    // Older data directories get their nonce key on first start.
    let nonce_key = crate::nonce::NonceKey::load_or_create(&paths.nonce_key())
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    let limits =
        crate::limits::Limits::new(&config).map_err(|e| ServerError::Invalid(e.to_string()))?;
    let log_keys = crate::log_keys::LogKeys::load(&paths, &config)?;
    // A staged TLS key whose time has come moves into tls/ before anything is served.
    crate::cert_renewal::finish_takeover(&paths, api::now())?;
    let cert_resolver = Arc::new(crate::cert_renewal::CertResolver::load(&paths)?);
    cert_resolver.warn_if_expiring(api::now());
    let cert_pem = std::fs::read(paths.cert()).map_err(io_err(&paths.cert()))?;
    let pin = cert_resolver.current_pin();
    let tls_config = crate::cert_renewal::CertResolver::server_config(cert_resolver.clone())?;
    let store_label = store_label(&paths, &config);
    let store = open_initialized_store(&paths, &config, true)?;

    let (listener, addr) = crate::serving::bind(config.listen)?;
    let url = Config::default().public_url_for(crate::serving::local_address(addr));
    let public_url = config.public_url_for(addr);

    let status_list = crate::status_list::StatusListCache::load(store.as_ref())?;
    let witnesses = crate::witness_client::endpoints(&config.witnesses)
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    let state = AppState(Arc::new(Shared {
        status_list,
        witnesses,
        checkpoint_guard: crate::checkpoints::Guard::new(),
        reports: crate::compliance::ReportCache::default(),
        store,
        answer_keys,
        public_url: public_url.clone(),
        tls: cert_resolver,
        metrics: Metrics::new(),
        limits,
        nonce_key: Arc::new(nonce_key),
        log_keys,
        evidence_roots: Arc::new(pramaan_core::evidence::Roots::builtin()),
        config,
    }));
    // Another instance on the same database may install a newer list.
    crate::status_list::follow(Arc::downgrade(&state.0));
    // `admin rotate-key log` may replace the checkpoint key while this server runs.
    crate::log_keys::follow(Arc::downgrade(&state.0));
    // `pramaan admin rotate-key answer` may replace the answer key while it runs.
    crate::answer_keys::follow(Arc::downgrade(&state.0));
    let app = api::router(state.clone());
    let serving = crate::serving::serve(
        listener,
        tls_config,
        app,
        "pramaan-server",
        None,
        state.config.connections.limits(),
        state.metrics.connections.clone(),
    )?;
    log::info!(
        "listening on {addr} ({public_url}), store: {}",
        crate::log_text::untrusted(&store_label)
    );
    Ok(Running {
        store_label,
        url,
        public_url,
        pin,
        ca_pem: cert_pem,
        addr,
        data_dir: paths.dir,
        state,
        serving,
        _serve_lock: serve_lock,
    })
}
