//! pramaan-testkit: shared fixtures of the integration tests: a server over real TLS on loopback
//! (pinned by SPKI, as a phone would), an admin client, seeded registry and policy, and
//! device messages built with core (SoftwareSigner, claims, COSE).
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]
#![warn(missing_docs)]

pub mod bench_acks;
pub mod browser;
pub mod fixtures;
pub mod log_fixtures;
pub mod postgres;
pub mod real_evidence;
pub mod store_conformance;

pub use fixtures::*;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use pramaan_core::claims::{
    self, AttestResult, Attestation, Challenge, DeviceInfo, EnrollRequest, ErrorBody, Platform,
    Receipt,
};
use pramaan_core::cose::{self, DEVICE_CONTENT_TYPE, Sign1};
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::keys::{Signer, SoftwareSigner};
use pramaan_core::transport::{HttpsClient, Options, Response, Trust};
use pramaan_server::config::Config;
use pramaan_server::server::{self, Running};
use pramaan_server::store::{
    Counts, DeviceRow, LogEntry, StoreError, read_transaction, transaction,
};
use tempfile::TempDir;
use uuid::Uuid;

/// `BIN ARGS` (a `pramaan` binary of a CLI test) with no `PRAMAAN_*` variable of the
/// test's environment, so a developer's exported server, token or database never reaches
/// the child.
pub fn command_without_pramaan_env(bin: &str, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(bin);
    c.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("PRAMAAN_") {
            c.env_remove(k);
        }
    }
    c
}

/// A loopback port free right now (for a `pramaan serve` child given `--listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port()
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A running server with its data directory and first admin token. It can be stopped
/// (devices see connection refused) and started again on the same data.
pub struct Env {
    running: Option<Running>,
    config: Config,
    /// The admin bearer token `admin init` printed.
    pub admin_token: String,
    /// The server's data directory (removed when the `Env` is dropped).
    pub dir: TempDir,
}

/// The server configuration of tests: loopback, any free port, no rate limits.
pub fn test_config() -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        rate_limit_per_sec: 0,
        device_rate_per_min: 0,
        ..Config::default()
    }
}

/// A fresh server (port 0) with `config` tweaks.
pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config();
    tweak(&mut config);
    // Initialized on the store the server will run on (SQLite unless `tweak` names a
    // database), whatever PRAMAAN_DATABASE_URL the environment holds.
    let init =
        server::admin_init_with_config(dir.path(), "localhost", None, &config).expect("admin init");
    started(dir, config, init)
}

/// The server of `dir` started with `config`, just after `init` made the directory.
fn started(dir: TempDir, config: Config, init: server::InitOutput) -> Env {
    let server = server::start_with_config(dir.path(), config.clone()).expect("start");
    assert_eq!(server.pin, init.pin);
    Env {
        running: Some(server),
        config,
        admin_token: init.admin_token,
        dir,
    }
}

/// A fresh server with the test configuration.
pub fn start() -> Env {
    start_with(|_| {})
}

/// A fresh deployment on the PostgreSQL database `url` (TLS verified against `ca` when
/// given; [`postgres::fresh_database`] makes one): `admin init` on it, then a server with
/// the test configuration and `tweak`. The database is written into the data directory's
/// `config.toml` as a deployment would, so the offline `admin` commands ([`Env::token`])
/// and copies of the directory ([`Env::another_instance`]) find it.
pub fn start_on_database(url: &str, ca: Option<&Path>, tweak: impl FnOnce(&mut Config)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    // Top-level keys, so after the template's first (comment) line, before any table.
    let mut db = format!("database_url = {url:?}\n");
    if let Some(ca) = ca {
        db.push_str(&format!("database_ca = {:?}\n", ca.display().to_string()));
    }
    let file = Config::template("localhost").replacen('\n', &format!("\n{db}"), 1);
    std::fs::write(dir.path().join("config.toml"), file).expect("config.toml");
    let mut config = test_config();
    config.database_url = Some(url.to_string());
    config.database_ca = ca.map(Path::to_path_buf);
    let init =
        server::admin_init_with_config(dir.path(), "localhost", None, &config).expect("admin init");
    tweak(&mut config);
    started(dir, config, init)
}

/// Copies the directory `from` into `to` (made if missing), files and subdirectories.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A server started with `config` on an existing data directory (a copied fixture made
/// by an earlier release, say); `admin_token` is a token valid on it (minted with
/// [`server::create_token`]).
pub fn start_existing(dir: TempDir, config: Config, admin_token: String) -> Env {
    let server = server::start_with_config(dir.path(), config.clone()).expect("start");
    Env {
        running: Some(server),
        config,
        admin_token,
        dir,
    }
}

/// The files of a data directory that every instance of a deployment shares (docs/deploy.md):
/// keys, TLS and configuration, never `pramaan.db`.
pub const INSTANCE_FILES: [&str; 8] = [
    "server.key",
    "nonce.key",
    "log.key",
    "log.vkey",
    "config.toml",
    "tls/cert.pem",
    "tls/key.pem",
    "tls/ca.pem",
];

/// Fast transport options for tests (no long retries when the server is down).
pub fn options() -> Options {
    Options {
        attempts: 1,
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

impl Env {
    /// The running server (panics while stopped).
    pub fn server(&self) -> &Running {
        self.running.as_ref().expect("the test server is stopped")
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.server().url
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (the port closes: devices see connection refused).
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            // A restart comes back on the same port.
            self.config.listen = r.addr;
            r.shutdown();
        }
    }

    /// Starts it again on the same port, with the same data.
    pub fn restart(&mut self) {
        self.stop();
        let config = self.config.clone();
        let mut last = None;
        for _ in 0..50 {
            match server::start_with_config(self.dir.path(), config.clone()) {
                Ok(r) => {
                    self.running = Some(r);
                    return;
                }
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server does not restart on {}: {last:?}", config.listen);
    }

    /// Another instance of this deployment, as an operator makes one: a copy of the data
    /// directory's [`INSTANCE_FILES`] (modes kept), started with the same configuration
    /// (so the same database) on a port of its own. Shares the admin token.
    pub fn another_instance(&self) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tls")).expect("tls dir");
        for name in INSTANCE_FILES {
            std::fs::copy(self.dir.path().join(name), dir.path().join(name))
                .unwrap_or_else(|e| panic!("copy {name}: {e}"));
        }
        let mut config = self.config.clone();
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = server::start_with_config(dir.path(), config.clone()).expect("start");
        assert_eq!(server.pin, self.server().pin, "the same TLS identity");
        Env {
            running: Some(server),
            config,
            admin_token: self.admin_token.clone(),
            dir,
        }
    }

    /// Starts it again on the same data with `config` (stopping it first if running).
    pub fn restart_with(&mut self, config: Config) {
        self.stop();
        self.running =
            Some(server::start_with_config(self.dir.path(), config.clone()).expect("start"));
        self.config = config;
    }

    /// An unauthenticated client that pins the server's key (as a phone does).
    pub fn device_client(&self) -> HttpsClient {
        HttpsClient::new(&self.server().url, Trust::Pin(self.server().pin), options())
            .expect("client")
    }

    /// An HTTPS client pinned to this server, sending `token` as bearer.
    pub fn client_with(&self, token: &str) -> HttpsClient {
        self.device_client().with_bearer(token)
    }

    /// A client with the admin token.
    pub fn admin(&self) -> HttpsClient {
        self.client_with(&self.admin_token)
    }

    /// Mints a bearer token of `role` (`it`, `auditor`, `admin`), scoped to `department`.
    pub fn token(&self, role: &str, department: Option<&str>) -> String {
        server::create_token(self.dir.path(), role.parse().expect("role"), department)
            .expect("token")
    }

    /// Policy of GAD and REV, and the registry.
    pub fn seed(&self) {
        seed(&self.admin());
    }

    /// Revokes `device_id` as IT does, with `reason` (`POST /v1/devices/{id}/revoke`).
    pub fn revoke(&self, device_id: &uuid::Uuid, reason: &str) {
        let r = self
            .admin()
            .post(
                &format!("/v1/devices/{device_id}/revoke"),
                "application/json",
                serde_json::json!({ "reason": reason })
                    .to_string()
                    .as_bytes(),
            )
            .expect("revoke");
        assert!(r.is_success(), "revoke: HTTP {}", r.status);
    }

    /// A new enrollment URI for `officer_id`.
    pub fn enrollment_uri(&self, officer_id: &str) -> String {
        let r = self
            .admin()
            .post(
                "/v1/enrollment-tokens",
                "application/json",
                serde_json::json!({ "officer_id": officer_id })
                    .to_string()
                    .as_bytes(),
            )
            .expect("enrollment token");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        v["uri"].as_str().expect("uri").to_string()
    }

    /// Cancels the enrollment token `token` as the admin (`POST
    /// /v1/enrollment-tokens/{id}/cancel`, the id as the server lists it).
    pub fn cancel_enrollment_token(&self, token: &str) -> Response {
        let id = pramaan_server::credentials::enroll_token_id(&claims::enroll_token_hash(token));
        self.admin()
            .post(
                &format!("/v1/enrollment-tokens/{id}/cancel"),
                "application/json",
                b"{}",
            )
            .expect("cancel")
    }

    /// A new enrollment token (the URI's token) for `officer_id`.
    pub fn enrollment_token(&self, officer_id: &str) -> String {
        let uri = EnrollmentUri::parse(&self.enrollment_uri(officer_id)).expect("parse uri");
        assert_eq!(uri.pin, self.server().pin);
        uri.token
    }

    /// A successful JSON answer of the admin API.
    fn json_ok(&self, what: &str, r: Response) -> serde_json::Value {
        let text = String::from_utf8_lossy(&r.body).to_string();
        assert!(r.is_success(), "{what}: HTTP {} {text}", r.status);
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    /// `GET /v1/compliance?department=D` as JSON.
    pub fn compliance(&self, department: &str) -> serde_json::Value {
        let r = self
            .admin()
            .get(&format!("/v1/compliance?department={department}"))
            .expect("compliance");
        self.json_ok("compliance", r)
    }

    /// `GET /v1/officers/{id}` as JSON.
    pub fn officer(&self, officer_id: &str) -> serde_json::Value {
        let r = self
            .admin()
            .get(&format!("/v1/officers/{officer_id}"))
            .expect("officer");
        self.json_ok("officer", r)
    }

    /// Requests the server has answered, all routes but `/metrics` (from `GET /metrics`).
    pub fn request_count(&self) -> u64 {
        let r = self.admin().get("/metrics").expect("metrics");
        let text = String::from_utf8_lossy(&r.body).to_string();
        text.lines()
            .filter(|l| l.starts_with("pramaan_requests_total{") && !l.contains("/metrics"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// Accepted attestations of a device as stored, in acceptance order: (seq, claims CBOR).
    pub fn stored_attestations(&self, device_id: &Uuid) -> Vec<(u64, Vec<u8>)> {
        let db = server::Paths::new(self.dir.path()).db();
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open db");
        let mut stmt = conn
            .prepare("SELECT seq, claims FROM attestations WHERE device_id = ?1 ORDER BY rowid")
            .expect("prepare");
        let rows = stmt
            .query_map([device_id.as_bytes().to_vec()], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
            })
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    /// The audit log's entries as stored, in order.
    pub fn log_entries(&self) -> Vec<LogEntry> {
        read_transaction(self.server().store().as_ref(), |tx| {
            pramaan_tlog::entries(tx.log(), 0, u64::MAX / 2).map_err(StoreError::from_log)
        })
        .expect("entries")
        .into_iter()
        .map(|(_, data)| LogEntry::from_leaf(&data).expect("a leaf parses"))
        .collect()
    }

    /// Row counts of the server's store.
    pub fn counts(&self) -> Counts {
        transaction(self.server().store().as_ref(), |tx| tx.counts()).expect("counts")
    }

    /// The stored row of device `id`.
    pub fn device_row(&self, id: &Uuid) -> Option<DeviceRow> {
        transaction(self.server().store().as_ref(), |tx| tx.device(id)).expect("device")
    }

    /// A fresh server nonce from `GET /v1/challenge`.
    pub fn challenge(&self) -> Vec<u8> {
        let r = self
            .device_client()
            .get("/v1/challenge")
            .expect("challenge");
        assert_eq!(r.status, 200);
        let c: Challenge = claims::decode(&r.body).expect("challenge body");
        assert_eq!(c.nonce.len(), 32);
        assert!(c.expires > now());
        c.nonce
    }

    /// Enrolls a new software key for `officer_id`.
    pub fn enroll(&self, officer_id: &str) -> Device {
        let token = self.enrollment_token(officer_id);
        let signer = SoftwareSigner::generate().expect("key");
        let nonce = self.challenge();
        let body = enroll_request(&signer, &token, &nonce);
        let r = self.post_enroll(&token, &body);
        assert_eq!(r.status, 200, "{:?}", error_of(&r));
        let receipt: Receipt = self.verify_answer(&r.body);
        assert_eq!(receipt.officer_id, officer_id);
        Device {
            signer,
            id: receipt.device_id,
            officer: officer_id.to_string(),
            anchor: anchor_of(&receipt.next_nonce),
            next_nonce: receipt.next_nonce,
            seq: 0,
        }
    }

    /// POSTs a device message (COSE_Sign1) to `path`.
    pub fn post_device(&self, path: &str, body: &[u8]) -> Response {
        self.device_client()
            .post(path, DEVICE_CONTENT_TYPE, body)
            .expect("post")
    }

    /// POSTs an enrollment request with its token in the `Authorization` header (outside
    /// the signed request, as the agent sends it).
    pub fn post_enroll(&self, token: &str, body: &[u8]) -> Response {
        self.client_with(token)
            .post("/v1/enroll", DEVICE_CONTENT_TYPE, body)
            .expect("post")
    }

    /// Verifies a server answer with the server's key and decodes it.
    pub fn verify_answer<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> T {
        let key = pramaan_core::ServerKey::load(&self.dir.path().join("server.key")).expect("key");
        let msg = Sign1::parse(body).expect("COSE answer");
        let payload = msg
            .verify_eddsa(&key.public_key(), None)
            .expect("server signature");
        claims::decode(payload).expect("answer payload")
    }

    /// Sends one attestation of `device` answering its next nonce; updates the device.
    pub fn attest_ok(&self, device: &mut Device) -> AttestResult {
        device.seq += 1;
        let nonce = device.next_nonce.clone();
        let body = device.attestation(Some(nonce), device.seq, now());
        let r = self.post_device("/v1/attest", &body);
        assert_eq!(r.status, 200, "{:?}", error_of(&r));
        let result: AttestResult = self.verify_answer(&r.body);
        device.anchor = anchor_of(&result.next_nonce);
        device.next_nonce = result.next_nonce.clone();
        result
    }
}

/// Department IT's setup through `admin`: the policies of GAD and REV, and the registry.
pub fn seed(admin: &HttpsClient) {
    for (d, p) in [("GAD", POLICY_GAD), ("REV", POLICY_REV)] {
        let r = admin
            .put(
                &format!("/v1/departments/{d}/policy"),
                "application/toml",
                p.as_bytes(),
            )
            .expect("put policy");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = admin
        .post("/v1/officers/import", "text/csv", OFFICERS.as_bytes())
        .expect("import");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["imported"], 3, "{v}");
}

/// The error body of a refused answer (CBOR or JSON), if it has one.
pub fn error_of(r: &Response) -> Option<ErrorBody> {
    claims::decode(&r.body)
        .ok()
        .or_else(|| serde_json::from_slice(&r.body).ok())
}

/// Asserts a CBOR error answer with `status` and `code`.
pub fn assert_rejected(r: &Response, status: u16, code: &str) {
    let err: ErrorBody = claims::decode(&r.body).unwrap_or_else(|e| {
        panic!(
            "status {} body not a CBOR error ({e}): {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
    });
    assert_eq!(
        (r.status, err.error.as_str()),
        (status, code),
        "{}",
        err.message
    );
}

/// The offline anchor of a nonce: its SHA-256.
pub fn anchor_of(nonce: &[u8]) -> Vec<u8> {
    pramaan_server::auth::hash_secret(nonce).to_vec()
}

/// A signed enrollment request for `signer`'s key with `token`'s hash and `nonce` (send
/// the token itself with [`Env::post_enroll`]).
pub fn enroll_request(signer: &SoftwareSigner, token: &str, nonce: &[u8]) -> Vec<u8> {
    let key = signer.public_key().expect("pk").to_cose_key_bytes();
    let req = EnrollRequest {
        v: claims::Protocol::CURRENT.number(),
        token_hash: claims::enroll_token_hash(token).to_vec(),
        nonce: nonce.to_vec(),
        key,
        platform: Platform::Android,
        device: DeviceInfo {
            model: "Pixel 8".into(),
            os: "android".into(),
            os_version: "15".into(),
        },
        evidence: None,
    };
    cose::sign_es256(signer, b"", claims::encode(&req)).expect("sign")
}

/// Facts that pass R1, R3 and R4 for a GAD officer.
pub fn claims_for(
    device_id: Uuid,
    officer: &str,
    nonce: Option<Vec<u8>>,
    seq: u64,
    iat: u64,
) -> Attestation {
    Attestation {
        nonce,
        iat,
        seq,
        groups: vec![
            whatsapp_group(GAD_GROUP, "+919800000001"),
            whatsapp_group("rev-officers", "+919800000003"),
        ],
        email: vec![registry_email(officer).to_string()],
        ..gad_claims(device_id, officer)
    }
}

/// An enrolled test device.
pub struct Device {
    /// Its P-256 key.
    pub signer: SoftwareSigner,
    /// The device id the server assigned.
    pub id: Uuid,
    /// The officer it is enrolled for.
    pub officer: String,
    /// The nonce of the server's last answer, for the next attestation.
    pub next_nonce: Vec<u8>,
    /// SHA-256 of the last nonce a fresh answer carried: offline attestations name it.
    pub anchor: Vec<u8>,
    /// The last seq it used.
    pub seq: u64,
}

impl Device {
    /// A signed attestation with `nonce` (None: offline, chained to the device's anchor),
    /// `seq` and `iat`.
    pub fn attestation(&self, nonce: Option<Vec<u8>>, seq: u64, iat: u64) -> Vec<u8> {
        let claims = Attestation {
            anchor: nonce.is_none().then(|| self.anchor.clone()),
            ..claims_for(self.id, &self.officer, nonce, seq, iat)
        };
        cose::sign_es256(&self.signer, self.id.as_bytes(), claims.to_cbor()).expect("sign")
    }
}
