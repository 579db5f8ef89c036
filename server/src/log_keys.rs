//! The checkpoint (log) key in force, its rotation, and the chain auditors follow.
//!
//! Why rotate: a checkpoint key that leaked lets anyone sign a forged history for the
//! log; one that is years old should be replaced on purpose. Why a chain: auditors and
//! witnesses hold the key they were given once, and must not be asked to trust a new
//! one handed out by the server they audit. So [`rotate`] writes, in ONE write
//! transaction, a [`LogEntry::LogKeyRotated`] entry signed by the old key
//! ([`pramaan_tlog::keychain`]) and a handover checkpoint, signed by the old key, whose
//! tree holds it (stored in the `checkpoints` table like every checkpoint); from then on
//! checkpoints are signed by the new key under the same origin. `DATA/log-keys.json`
//! ([`KeyChain`]) records every key and each rotation's entry and handover checkpoint;
//! `GET /v1/audit/key-chain` serves it and `pramaan audit pull` puts each step in the
//! bundle, which `audit verify --log-key FIRST.vkey` walks.
//!
//! The old private key is not kept: `log.key` is replaced, so a leaked key stops being
//! able to sign for the log the moment the rotation commits (the server refuses to sign
//! with a key the log has handed over from, [`crate::checkpoints`]). Backups taken before
//! the rotation still hold it: destroy them or keep them as secret as the key.
//!
//! Order, so that a crash never leaves a log that auditors cannot follow: the new key is
//! written to `log.key.next-<key id>`; the transaction commits the entry and the
//! handover; then `log-keys.json`, `log.key` (renamed from that file) and `log.vkey` are
//! replaced,
//! each atomically. A rotation interrupted after the commit is finished by running the
//! command again (the log says which key it was handed to); one interrupted before is
//! started afresh. A running server (every instance on the directory) re-reads the
//! files every [`FOLLOW_INTERVAL`] and before each checkpoint it signs ([`LogKeys`]).

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use pramaan_core::keys::ServerKey;
use pramaan_tlog::keychain::{self, KeyChain, Rotation};
use pramaan_tlog::{LogEntry, LogSigner};

use crate::checkpoints::{CheckpointError, Guard, Refusal, check_before_signing};
use crate::config::Config;
use crate::server::{Paths, ServerError};
use crate::store::{CheckpointRow, StoreError, Tx, read_transaction, transaction};

/// How often a running server looks at the key files.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);

/// Why a rotation did not happen. Nothing was changed unless the text says so.
#[derive(Debug, thiserror::Error)]
pub enum LogKeyError {
    /// The data directory or its store could not be opened, or a file written.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The store failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The log holds something the server would not sign: no handover is signed.
    #[error(
        "the log cannot be handed over: {0}; nothing was changed (see `pramaan audit show` \
         for the entry)"
    )]
    Refused(Refusal),
    /// The files do not agree with each other or with the log.
    #[error("{0}")]
    Inconsistent(String),
}

impl From<StoreError> for LogKeyError {
    fn from(e: StoreError) -> Self {
        LogKeyError::Checkpoint(CheckpointError::Store(e))
    }
}

/// What [`rotate`] did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The verifier key replaced.
    pub old: String,
    /// The verifier key in force now (also `DATA/log.vkey`).
    pub new: String,
    /// Index of the rotation entry.
    pub index: u64,
    /// The handover checkpoint (signed by the old key).
    pub handover: String,
    /// Whether this run only finished a rotation an earlier run had committed.
    pub resumed: bool,
    /// The whole chain (`DATA/log-keys.json`).
    pub chain: KeyChain,
}

/// `pramaan admin rotate-key log --data DIR`: hands the log to a new checkpoint key (see
/// the module docs). Safe while servers run on the directory.
pub fn rotate(data_dir: &Path) -> Result<Rotated, LogKeyError> {
    let paths = Paths::new(data_dir);
    let config = Config::load(data_dir).map_err(ServerError::from)?;
    let store = crate::server::open_initialized_store(&paths, &config, false)?;
    let old = crate::server::load_log_signer(&paths, &config)?;
    let mut chain = read_chain(&paths)?.unwrap_or_else(|| KeyChain {
        keys: vec![old.verifier_key()],
        rotations: Vec::new(),
    });
    let mismatch = || {
        LogKeyError::Inconsistent(format!(
            "{} does not end with the key of {}; restore the files of one backup together",
            paths.log_keys().display(),
            paths.log_vkey().display()
        ))
    };
    // The whole log is replayed before the handover: the old key signs nothing the
    // server itself would refuse to sign.
    let guard = Guard::new();
    let size = read_transaction(store.as_ref(), |tx| tx.log().size())?;
    guard
        .check_up_to(store.as_ref(), size)?
        .map_err(LogKeyError::Refused)?;

    if let Some((index, key)) = guard.log_key()
        && key != old.verifier()
    {
        let next = paths.log_key_next(&key.id);
        // Committed by an earlier run that stopped before the files: finish it.
        let new = ServerKey::load(&next).map_err(|e| {
            LogKeyError::Inconsistent(format!(
                "the log's rotation at entry {index} hands the log to key {}, but {} \
                 cannot be read ({e}); restore that key file, or the data directory from a \
                 backup taken after the rotation",
                key.label(),
                next.display()
            ))
        })?;
        let signer = LogSigner::try_new(old.name().to_string(), new)
            .map_err(|e| LogKeyError::Inconsistent(format!("{}: {e}", next.display())))?;
        if signer.verifier() != key {
            return Err(LogKeyError::Inconsistent(format!(
                "the log's rotation at entry {index} hands the log to key {}, but {} is key \
                 {}; restore the matching key file",
                key.label(),
                next.display(),
                signer.verifier().label()
            )));
        }
        let handover = read_transaction(store.as_ref(), |tx| tx.checkpoints(index + 1, 1))?
            .into_iter()
            .next()
            .map(|row| row.note)
            .ok_or_else(|| {
                LogKeyError::Inconsistent(format!("no checkpoint holds the rotation entry {index}"))
            })?;
        // The chain may already have been written when the run stopped.
        if chain.keys.last() == Some(&signer.verifier_key()) {
            chain.keys.pop();
        }
        if chain.keys.last() != Some(&old.verifier_key()) {
            return Err(mismatch());
        }
        return finish(&paths, &old, &signer, (index, handover), chain, true);
    }
    if chain.keys.last() != Some(&old.verifier_key()) {
        return Err(mismatch());
    }

    // A new key, on disk before the log names it, in a file of its own: two rotations
    // run at once never touch each other's key (the second one's transaction is refused).
    let new = ServerKey::generate().map_err(ServerError::from)?;
    let next = paths.log_key_next(&pramaan_tlog::checkpoint::key_id(
        old.name(),
        &new.public_key(),
    ));
    new.save(&next).map_err(ServerError::from)?;
    let signer = LogSigner::try_new(
        old.name().to_string(),
        ServerKey::load(&next).map_err(ServerError::from)?,
    )
    .map_err(|e| LogKeyError::Inconsistent(e.to_string()))?;
    let now = crate::api::now();
    let entry =
        keychain::rotation_entry(&old, &signer.verifier(), now, crate::credentials::ADMIN_CLI);
    let committed = transaction(store.as_ref(), |tx| {
        hand_over(tx, &guard, &old, &entry, now)
    });
    let (index, handover) = match committed {
        Ok(done) => done,
        // Rolled back: the log never named the key.
        Err(e @ LogKeyError::Refused(_)) => {
            let _ = std::fs::remove_file(&next);
            return Err(e);
        }
        // Perhaps committed (a connection lost during COMMIT): the key file stays, and
        // running the command again finishes the rotation if the log holds it.
        Err(e) => return Err(e),
    };
    chain.rotations.push(Rotation {
        index,
        handover: handover.clone(),
    });
    finish(&paths, &old, &signer, (index, handover), chain, false)
}

/// Inside the write transaction: replays what was appended since the guard's read,
/// appends the rotation entry, and signs with the old key the handover checkpoint of the
/// tree that holds it (after the same checks as every checkpoint). A refusal is an error,
/// so the transaction rolls back and the entry is never committed without its handover.
fn hand_over(
    tx: &mut dyn Tx,
    guard: &Guard,
    old: &LogSigner,
    entry: &LogEntry,
    now: u64,
) -> Result<(u64, String), LogKeyError> {
    let size = tx.log().size()?;
    guard.check_in(tx, size)?.map_err(LogKeyError::Refused)?;
    // Rotated meanwhile from another data directory on the same database: the old key
    // is no longer in force, and a second rotation from it would be an entry the server
    // never signs past.
    if let Some((index, key)) = guard.log_key()
        && key != old.verifier()
    {
        return Err(LogKeyError::Refused(Refusal::KeyRotated {
            index,
            key: key.label(),
            signer: old.verifier().label(),
        }));
    }
    let last = tx.latest_checkpoint()?;
    let index = tx.append_log(entry)?;
    let size = index + 1;
    let root = pramaan_tlog::root(tx.log(), size).map_err(CheckpointError::from)?;
    if let Some(last) = &last {
        check_before_signing(tx, last, size, &root)?.map_err(LogKeyError::Refused)?;
    }
    let note = old
        .sign_checkpoint(size, &root)
        .map_err(CheckpointError::from)?;
    tx.insert_checkpoint(&CheckpointRow {
        size,
        root,
        note: note.clone(),
        signed_at: now,
    })?;
    Ok((index, note))
}

/// After the commit: the chain, then the key, then the verifier key, each replaced
/// atomically (a server reading between two of them keeps its key a moment longer).
fn finish(
    paths: &Paths,
    old: &LogSigner,
    new: &LogSigner,
    (index, handover): (u64, String),
    mut chain: KeyChain,
    resumed: bool,
) -> Result<Rotated, LogKeyError> {
    if resumed && !chain.rotations.iter().any(|r| r.index == index) {
        chain.rotations.push(Rotation {
            index,
            handover: handover.clone(),
        });
    }
    if chain.keys.last() != Some(&new.verifier_key()) {
        chain.keys.push(new.verifier_key());
    }
    write(&paths.log_keys(), &chain_json(&chain), 0o644)?;
    std::fs::rename(paths.log_key_next(&new.key_id()), paths.log_key()).map_err(|source| {
        ServerError::Io {
            path: paths.log_key().display().to_string(),
            source,
        }
    })?;
    write(
        &paths.log_vkey(),
        format!("{}\n", new.verifier_key()).as_bytes(),
        0o644,
    )?;
    // The key names come from the directory's files.
    log::info!(
        "checkpoint key rotated at entry {index}: {} -> {}",
        crate::log_text::untrusted(&old.verifier().label()),
        crate::log_text::untrusted(&new.verifier().label())
    );
    Ok(Rotated {
        old: old.verifier_key(),
        new: new.verifier_key(),
        index,
        handover,
        resumed,
        chain,
    })
}

fn chain_json(chain: &KeyChain) -> Vec<u8> {
    // A struct of strings and integers always serializes.
    let mut v = serde_json::to_vec_pretty(chain).unwrap_or_default();
    v.push(b'\n');
    v
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ServerError> {
    pramaan_core::fsutil::write_atomic(path, bytes, mode).map_err(|source| ServerError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// `DATA/log-keys.json`, if the key was ever rotated (a file that does not parse is an
/// error: it is what auditors are given).
pub fn read_chain(paths: &Paths) -> Result<Option<KeyChain>, ServerError> {
    let path = paths.log_keys();
    let bytes = pramaan_core::fsutil::read_if_exists(&path).map_err(|source| ServerError::Io {
        path: path.display().to_string(),
        source,
    })?;
    bytes
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| {
                ServerError::Invalid(format!(
                    "{}: {e}; restore it from the backup of this data directory",
                    path.display()
                ))
            })
        })
        .transpose()
}

/// The checkpoint key a running server signs with, re-read when the key files change.
pub struct LogKeys {
    paths: Paths,
    config: Config,
    signer: RwLock<Arc<LogSigner>>,
    chain: RwLock<Arc<KeyChain>>,
    /// Modification times and lengths of the files last read.
    stamp: Mutex<Stamp>,
}

type Stamp = Vec<Option<(SystemTime, u64)>>;

impl std::fmt::Debug for LogKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKeys")
            .field("signer", &*self.signer())
            .finish_non_exhaustive()
    }
}

impl LogKeys {
    /// The keys of the data directory `paths` (what `start` loads).
    pub fn load(paths: &Paths, config: &Config) -> Result<Self, ServerError> {
        let stamp = stamp(paths);
        let signer = crate::server::load_log_signer(paths, config)?;
        let chain = read_chain(paths)?.unwrap_or_default();
        Ok(Self {
            paths: paths.clone(),
            config: config.clone(),
            signer: RwLock::new(Arc::new(signer)),
            chain: RwLock::new(Arc::new(chain)),
            stamp: Mutex::new(stamp),
        })
    }

    /// The signer in force.
    pub fn signer(&self) -> Arc<LogSigner> {
        self.signer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The chain of keys (empty before the first rotation).
    pub fn chain(&self) -> Arc<KeyChain> {
        self.chain.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the key files if they changed since the last read; `true` if the key
    /// changed. Files caught half-way through a rotation (key and verifier key that do not
    /// match) are left for the next look, and the key in force stays.
    pub fn refresh(&self) -> bool {
        let mut last = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamp(&self.paths);
        if now == *last {
            return false;
        }
        let loaded = crate::server::load_log_signer(&self.paths, &self.config)
            .and_then(|s| read_chain(&self.paths).map(|c| (s, c.unwrap_or_default())));
        match loaded {
            Ok((signer, chain)) => {
                *last = now;
                let changed = signer.verifier() != self.signer().verifier();
                if changed {
                    log::info!(
                        "checkpoint key in force: {} (was {})",
                        crate::log_text::untrusted(&signer.verifier().label()),
                        crate::log_text::untrusted(&self.signer().verifier().label())
                    );
                }
                *self.signer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(signer);
                *self.chain.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(chain);
                changed
            }
            Err(e) => {
                log::debug!(
                    "checkpoint key files not read yet: {}",
                    crate::log_text::untrusted(&e.to_string())
                );
                false
            }
        }
    }
}

fn stamp(paths: &Paths) -> Stamp {
    [paths.log_key(), paths.log_vkey(), paths.log_keys()]
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Re-reads the key files every [`FOLLOW_INTERVAL`] while the server runs.
pub fn follow(shared: Weak<crate::api::Shared>) {
    crate::api::follow_every("log keys", FOLLOW_INTERVAL, shared, |state| {
        state.log_keys.refresh();
    });
}
