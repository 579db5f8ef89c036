//! The witness service (C2SP tlog-witness): `pramaan witness init` and `pramaan witness
//! serve`.
//!
//! Why a separate service: a server, or a copy of its data directory, can sign two
//! different logs under one key and show each auditor its own. A witness run by an office
//! independent of the server's operators (the audit department) keeps, for each log it
//! witnesses, the last tree it cosigned, and cosigns a new checkpoint only if a
//! consistency proof shows it extends that tree; so checkpoints carrying its cosignature
//! can never fork. The decision itself is `pramaan_tlog::witness::check_add_checkpoint`;
//! this module keeps the state durable (the new tree is written atomically and fsynced
//! before the cosignature is answered, and the check and the write happen under one
//! lock), serves `POST /add-checkpoint` over TLS (axum + rustls, ring), and sets up the
//! witness's directory.
//!
//! Directory layout: `witness.key` (Ed25519, 0600), `witness.vkey` (the verifier key,
//! `<name>+<hex id>+<base64(0x04 || key)>`, which also holds the name), `tls/cert.pem`
//! (leaf then CA), `tls/key.pem` (0600), `tls/ca.pem`, and `state.json`: for each log
//! origin the size and root hash (hex) last cosigned.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pramaan_core::ServerKey;
use pramaan_core::fsutil::write_atomic;
use pramaan_tlog::witness::{
    AddCheckpoint, Cosigner, MAX_ADD_CHECKPOINT_BYTES, Refusal, SIZE_CONTENT_TYPE, WitnessKey,
    WitnessedTree, check_add_checkpoint,
};
use pramaan_tlog::{NoteError, VerifierKey};
use serde::{Deserialize, Serialize};

use crate::tls::{self, TlsError};

/// Why the witness could not be set up, started or could not record a tree.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// Reading or writing a file of the witness directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// `witness init` found a witness already set up (the file named).
    #[error("{0} already exists; refusing to overwrite an existing witness's key")]
    Exists(String),
    /// The directory has no witness.
    #[error("{0} is not a witness directory (run `pramaan witness init --data DIR --name NAME`)")]
    NotInitialized(String),
    /// The witness key cannot be made or loaded.
    #[error("witness key: {0}")]
    Key(#[from] pramaan_core::KeyError),
    /// A bad witness name, or a bad or mismatched verifier key file.
    #[error("{0}")]
    Note(#[from] NoteError),
    /// The state file is not what this module writes.
    #[error("{path} is corrupt: {reason}")]
    State {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No log key was given to `witness serve`.
    #[error("a witness needs the verifier key of at least one log (--log-key FILE)")]
    NoLogs,
    /// The TLS certificate or key cannot be made or loaded.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The listen address cannot be bound, or the runtime or its thread could not be
    /// started.
    #[error(transparent)]
    Serve(#[from] crate::serving::ServeError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WitnessError + '_ {
    move |source| WitnessError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// File names inside a witness directory.
#[derive(Debug, Clone)]
pub struct WitnessPaths {
    /// The directory itself.
    pub dir: PathBuf,
}

impl WitnessPaths {
    /// The paths of the witness directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }
    /// `witness.key`: the Ed25519 cosigning key (mode 0600).
    pub fn key(&self) -> PathBuf {
        self.dir.join("witness.key")
    }
    /// `witness.vkey`: the witness's verifier key (give it to logs and auditors).
    pub fn vkey(&self) -> PathBuf {
        self.dir.join("witness.vkey")
    }
    /// `tls/cert.pem`: the TLS certificate followed by its CA.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("tls").join("cert.pem")
    }
    /// `tls/key.pem`: the TLS key (mode 0600).
    pub fn tls_key(&self) -> PathBuf {
        self.dir.join("tls").join("key.pem")
    }
    /// `tls/ca.pem`: the local CA certificate alone.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("tls").join("ca.pem")
    }
    /// `state.json`: the tree last cosigned for each log.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
}

/// What `witness init` made.
#[derive(Debug, Clone)]
pub struct WitnessInit {
    /// The witness's verifier key (also in `DIR/witness.vkey`).
    pub vkey: String,
    /// SHA-256 of the TLS certificate's SubjectPublicKeyInfo, base64url.
    pub pin_b64url: String,
    /// `DIR/tls/cert.pem`.
    pub cert_path: PathBuf,
    /// `DIR/tls/ca.pem`.
    pub ca_path: PathBuf,
}

/// `pramaan witness init`: the cosigning key, its verifier key and a TLS identity for
/// `host`. Refuses a directory that already holds a witness.
pub fn init(dir: &Path, name: &str, host: &str) -> Result<WitnessInit, WitnessError> {
    let paths = WitnessPaths::new(dir);
    for p in [paths.key(), paths.vkey(), paths.state(), paths.cert()] {
        if p.exists() {
            return Err(WitnessError::Exists(p.display().to_string()));
        }
    }
    let name = name.trim();
    pramaan_tlog::checkpoint::check_name(name)?;
    let tls_dir = dir.join("tls");
    std::fs::create_dir_all(&tls_dir).map_err(io_err(&tls_dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    // The key is saved (0600, fsynced) before its verifier key is written.
    ServerKey::generate()?.save(&paths.key())?;
    let cosigner = Cosigner::new(name.to_string(), ServerKey::load(&paths.key())?)?;
    let vkey = cosigner.verifier_key();
    write_atomic(&paths.vkey(), format!("{vkey}\n").as_bytes(), 0o644)
        .map_err(io_err(&paths.vkey()))?;
    let generated = tls::generate(host)?;
    write_atomic(&paths.tls_key(), generated.key_pem.as_bytes(), 0o600)
        .map_err(io_err(&paths.tls_key()))?;
    write_atomic(&paths.cert(), generated.cert_chain_pem.as_bytes(), 0o644)
        .map_err(io_err(&paths.cert()))?;
    write_atomic(&paths.ca(), generated.ca_pem.as_bytes(), 0o644).map_err(io_err(&paths.ca()))?;
    Ok(WitnessInit {
        vkey,
        pin_b64url: pramaan_core::encoding::b64url(&generated.pin),
        cert_path: paths.cert(),
        ca_path: paths.ca(),
    })
}

/// The state file: origin -> tree last cosigned.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    logs: BTreeMap<String, StoredTree>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredTree {
    size: u64,
    root: String,
}

fn load_state(path: &Path) -> Result<BTreeMap<String, WitnessedTree>, WitnessError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let corrupt = |reason: String| WitnessError::State {
        path: path.display().to_string(),
        reason,
    };
    let file: StateFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    file.logs
        .into_iter()
        .map(|(origin, t)| {
            let root = hex::decode(&t.root)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| corrupt(format!("root of {origin:?} is not 32 bytes of hex")))?;
            Ok((origin, WitnessedTree { size: t.size, root }))
        })
        .collect()
}

fn save_state(path: &Path, logs: &BTreeMap<String, WitnessedTree>) -> Result<(), WitnessError> {
    let file = StateFile {
        logs: logs
            .iter()
            .map(|(o, t)| {
                (
                    o.clone(),
                    StoredTree {
                        size: t.size,
                        root: hex::encode(t.root),
                    },
                )
            })
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| WitnessError::State {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &json, 0o600).map_err(io_err(path))
}

/// An answer to one `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body: cosignature lines (200), the latest size (409) or the reason.
    pub body: String,
}

impl Answer {
    fn refused(r: &Refusal) -> Self {
        match r {
            Refusal::Conflict { latest } => Self {
                status: 409,
                content_type: SIZE_CONTENT_TYPE,
                body: format!("{latest}\n"),
            },
            other => Self {
                status: other.status(),
                content_type: "text/plain; charset=utf-8",
                body: format!("{other}\n"),
            },
        }
    }
}

/// A witness: its cosigning identity, the logs it witnesses and its durable state.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<VerifierKey>,
    state_path: PathBuf,
    state: Mutex<BTreeMap<String, WitnessedTree>>,
}

impl Witness {
    /// Opens the witness of `dir` for the logs whose verifier keys are `logs`.
    pub fn open(dir: &Path, logs: Vec<VerifierKey>) -> Result<Self, WitnessError> {
        if logs.is_empty() {
            return Err(WitnessError::NoLogs);
        }
        let paths = WitnessPaths::new(dir);
        if !paths.key().exists() || !paths.vkey().exists() {
            return Err(WitnessError::NotInitialized(dir.display().to_string()));
        }
        let key = ServerKey::load(&paths.key())?;
        let vkey_text = std::fs::read_to_string(paths.vkey()).map_err(io_err(&paths.vkey()))?;
        let vkey = WitnessKey::parse(&vkey_text)?;
        let cosigner = Cosigner::new(vkey.name.clone(), key)?;
        if cosigner.key_id() != vkey.id {
            return Err(WitnessError::Note(NoteError::BadVerifierKey(
                "witness.vkey is not the verifier key of witness.key",
            )));
        }
        let state = load_state(&paths.state())?;
        Ok(Self {
            cosigner,
            logs,
            state_path: paths.state(),
            state: Mutex::new(state),
        })
    }

    /// The witness's verifier key.
    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier_key()
    }

    /// The tree last cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Option<WitnessedTree> {
        self.lock().get(origin).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, WitnessedTree>> {
        // A poisoned lock means a panic mid-request; the map is only replaced after the
        // state file was written, so it is still the durable state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Handles one `add-checkpoint` body at time `now` (POSIX seconds): checks it, records
    /// the new tree durably, then cosigns. Never panics on any body.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Answer {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(r) => return Answer::refused(&r),
        };
        // The check and the write happen under one lock (C2SP: atomically), so two
        // concurrent requests can never roll the stored tree back.
        let mut state = self.lock();
        let cp = match check_add_checkpoint(&req, &self.logs, |o| state.get(o).copied()) {
            Ok(cp) => cp,
            Err(r) => {
                if matches!(r, Refusal::Inconsistent(_) | Refusal::Conflict { .. }) {
                    // The note is the caller's text: escaped, one line.
                    log::warn!(
                        "refused a checkpoint: {}; the request was: {}",
                        crate::log_text::untrusted(&r.to_string()),
                        crate::log_text::untrusted(&req.note)
                    );
                }
                return Answer::refused(&r);
            }
        };
        let mut next = state.clone();
        next.insert(
            cp.origin.clone(),
            WitnessedTree {
                size: cp.size,
                root: cp.root,
            },
        );
        if let Err(e) = save_state(&self.state_path, &next) {
            log::error!("cannot record the witnessed tree: {e}");
            return Answer {
                status: 500,
                content_type: "text/plain; charset=utf-8",
                body: "the witness cannot record its state\n".into(),
            };
        }
        *state = next;
        drop(state);
        match self.cosigner.cosign(&req.note, now) {
            Ok(line) => Answer {
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: line,
            },
            Err(e) => Answer {
                status: 500,
                content_type: "text/plain; charset=utf-8",
                body: format!("cannot cosign: {e}\n"),
            },
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The witness's HTTP routes: `POST /add-checkpoint` (body bounded).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_ADD_CHECKPOINT_BYTES))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    // The state write fsyncs: off the async workers.
    let answer = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now())).await;
    match answer {
        Ok(a) => (
            StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, a.content_type)],
            a.body,
        )
            .into_response(),
        Err(e) => {
            log::error!("add-checkpoint task failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A witness serving on its own runtime thread. Dropping it stops it.
#[derive(Debug)]
pub struct RunningWitness {
    /// `https://127.0.0.1:PORT`: the submission prefix.
    pub url: String,
    /// The address bound.
    pub addr: SocketAddr,
    /// SHA-256 of the TLS certificate's SubjectPublicKeyInfo.
    pub pin: [u8; 32],
    /// The witness (tests read its state).
    pub witness: Arc<Witness>,
    serving: crate::serving::Serving,
}

impl RunningWitness {
    /// Stops accepting, lets in-flight requests finish (up to 2 s), joins the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Blocks until Ctrl-C or SIGTERM, then shuts down (`pramaan witness serve`).
    pub fn wait_for_signal(mut self) -> Result<(), WitnessError> {
        crate::serving::wait_for_shutdown_signal()?;
        self.stop();
        Ok(())
    }

    fn stop(&mut self) {
        self.serving.stop();
    }
}

/// Starts the witness of `dir` for `logs` on `listen` (port 0 picks a free port).
pub fn start(
    dir: &Path,
    logs: Vec<VerifierKey>,
    listen: SocketAddr,
) -> Result<RunningWitness, WitnessError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let witness = Arc::new(Witness::open(dir, logs)?);
    let paths = WitnessPaths::new(dir);
    let cert_pem = std::fs::read(paths.cert()).map_err(io_err(&paths.cert()))?;
    let key_pem = std::fs::read(paths.tls_key()).map_err(io_err(&paths.tls_key()))?;
    let pin = tls::pin_of_chain(&cert_pem, &paths.cert())?;
    let tls_config = tls::server_config(&cert_pem, &key_pem, &paths.cert())?;
    let (listener, addr) = crate::serving::bind(listen)?;
    let url = format!("https://{}", crate::serving::local_address(addr));
    let app = router(witness.clone());
    let serving = crate::serving::serve(
        listener,
        tls_config,
        app,
        "pramaan-witness",
        Some(2),
        crate::conn_limits::ConnLimits::default(),
        Arc::default(),
    )?;
    log::info!("witness listening on {addr}");
    Ok(RunningWitness {
        url,
        addr,
        pin,
        witness,
        serving,
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use pramaan_tlog::LogSigner;
    use pramaan_tlog::tree::{MemoryTree, consistency_path};
    use pramaan_tlog::witness::count_cosignatures;

    fn proof(t: &mut MemoryTree, old: u64, new: u64) -> Vec<pramaan_tlog::Hash> {
        match consistency_path(t, old, new) {
            Ok(p) => p,
            Err(never) => match never {},
        }
    }

    struct Fixture {
        dir: tempfile::TempDir,
        log: LogSigner,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("dir");
            init(dir.path(), "audit.test/witness", "localhost").expect("init");
            let log =
                LogSigner::try_new("pramaan.test/log".into(), ServerKey::generate().expect("k"))
                    .expect("log");
            Self { dir, log }
        }
        fn open(&self) -> Witness {
            let vk = VerifierKey::parse(&self.log.verifier_key()).expect("vkey");
            Witness::open(self.dir.path(), vec![vk]).expect("open")
        }
        fn body(&self, t: &mut MemoryTree, old: u64) -> String {
            let size = t.size();
            AddCheckpoint {
                old,
                proof: proof(t, old, size),
                note: self.log.sign_checkpoint(size, &t.root()).expect("sign"),
            }
            .to_body()
        }
    }

    #[test]
    fn init_refuses_to_overwrite_and_bad_names() {
        let f = Fixture::new();
        assert!(matches!(
            init(f.dir.path(), "audit.test/witness", "localhost"),
            Err(WitnessError::Exists(_))
        ));
        let other = tempfile::tempdir().expect("dir");
        assert!(init(other.path(), "bad name", "localhost").is_err());
        assert!(!WitnessPaths::new(other.path()).key().exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(WitnessPaths::new(f.dir.path()).key())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            Witness::open(other.path(), vec![]),
            Err(WitnessError::NoLogs)
        ));
    }

    /// The witness cosigns, keeps its tree across a restart, and after that still refuses
    /// a stale size and accepts growth.
    #[test]
    fn state_survives_a_restart() {
        let f = Fixture::new();
        let mut t = MemoryTree::new();
        for i in 0..5u8 {
            t.push(&[i]);
        }
        let w = f.open();
        let body = f.body(&mut t, 0);
        let a = w.add_checkpoint(body.as_bytes(), 1000);
        assert_eq!(a.status, 200, "{}", a.body);
        let note = f.log.sign_checkpoint(5, &t.root()).expect("sign");
        let wk = WitnessKey::parse(&w.verifier_key()).expect("wkey");
        // The answer is a cosignature of the checkpoint (the timestamp is ours).
        assert_eq!(
            wk.verify(&format!("{note}{}", a.body)).expect("cosig"),
            1000
        );
        drop(w);

        let w = f.open();
        assert_eq!(w.latest("pramaan.test/log").map(|t| t.size), Some(5));
        let stale = w.add_checkpoint(body.as_bytes(), 1001);
        assert_eq!((stale.status, stale.content_type), (409, SIZE_CONTENT_TYPE));
        assert_eq!(stale.body, "5\n");
        t.push(b"six");
        let grown = w.add_checkpoint(f.body(&mut t, 5).as_bytes(), 1002);
        assert_eq!(grown.status, 200, "{}", grown.body);
        let note6 = f.log.sign_checkpoint(6, &t.root()).expect("sign");
        let n = count_cosignatures(&format!("{note6}{}", grown.body), &[wk]);
        assert_eq!(n.valid.len(), 1);
    }

    /// Malformed bodies are 400 and leave the state (memory and file) as it was.
    #[test]
    fn malformed_bodies_are_400_and_change_nothing() {
        let f = Fixture::new();
        let mut t = MemoryTree::new();
        t.push(b"a");
        t.push(b"b");
        let w = f.open();
        assert_eq!(
            w.add_checkpoint(f.body(&mut t, 0).as_bytes(), 1).status,
            200
        );
        let file = std::fs::read(WitnessPaths::new(f.dir.path()).state()).expect("state");
        t.push(b"c");
        let good = f.body(&mut t, 2);
        let mut bodies: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"old 2".to_vec(),
            b"old 2\n\n".to_vec(),
            good.replacen("old 2", "old 02", 1).into_bytes(),
            good.replacen("\n\n", "\n", 1).into_bytes(),
            good.replace("\u{2014}", "-").into_bytes(),
            good.as_bytes()[..good.len() - 1].to_vec(),
            vec![0xff; 100],
        ];
        // Every truncation of a good body.
        for cut in (1..good.len()).step_by(7) {
            if good.is_char_boundary(cut) {
                bodies.push(good.as_bytes()[..cut].to_vec());
            }
        }
        for b in &bodies {
            let a = w.add_checkpoint(b, 2);
            assert!(
                a.status == 400,
                "{:?} -> {} {}",
                String::from_utf8_lossy(b),
                a.status,
                a.body
            );
        }
        assert_eq!(w.latest("pramaan.test/log").map(|t| t.size), Some(2));
        assert_eq!(
            std::fs::read(WitnessPaths::new(f.dir.path()).state()).expect("state"),
            file
        );
        assert_eq!(w.add_checkpoint(good.as_bytes(), 3).status, 200);
    }

    #[test]
    fn a_corrupt_state_file_is_refused_not_reset() {
        let f = Fixture::new();
        std::fs::write(WitnessPaths::new(f.dir.path()).state(), "{\"logs\": 5}").expect("w");
        let vk = VerifierKey::parse(&f.log.verifier_key()).expect("vkey");
        assert!(matches!(
            Witness::open(f.dir.path(), vec![vk]),
            Err(WitnessError::State { .. })
        ));
    }
}
