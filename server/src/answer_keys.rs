//! The answer key (`server.key`, Ed25519: it signs receipts and results) and its
//! rotation: `pramaan admin rotate-key answer` ([`rotate`]), the keys every instance
//! signs with ([`AnswerKeys`]), and which key answers which device ([`KeySet::signer_for`]).
//!
//! Why: a leaked answer key lets whoever holds it (and can reach a phone's TLS channel)
//! forge verdicts to that phone; an old one should be replaceable without re-enrolling
//! every phone. Phones learn the new key from the old one: each rotation writes an
//! endorsement (COSE_Sign1 by the OLD key over the new key, [`pramaan_core::agent::answer_keys`])
//! that every answer carries, with all earlier ones, so a phone that slept through several
//! rotations walks them all.
//!
//! Files of the data directory ([`Paths`]):
//! - `server.key`: the key that signs now;
//! - `answer-keys.json`: every rotation, oldest first (old key, new key, since, the
//!   endorsement, whether the old private key was kept);
//! - `answer-keys/<old key hex>.key`: an old private key kept ONLY to answer devices of
//!   the previous protocol (v1) enrolled under it: v1 agents follow no chain and refuse any
//!   other key. Not kept with `--retire` (the key leaked: it must stop signing; those v1
//!   phones see unverifiable answers until the officer updates the app), nor once the v1
//!   period (`previous_protocol_until`) is over. Answers to this release's agents are
//!   always signed by the newest key.
//! - `answer-keys/next.key`: the new key during a rotation, until it replaces `server.key`.
//!
//! A rotation appends [`LogEntry::AnswerKeyRotated`] in a write transaction before any
//! file a server reads changes; the new key is written first (`next.key`), the chain
//! second, `server.key` last, and a loader that finds the chain ahead of `server.key`
//! takes `next.key` (so a crash between them loses nothing). Running servers (every
//! instance on the directory) re-read the files at most every [`FOLLOW_INTERVAL`]
//! ([`follow`]), so they sign with the new key within seconds, without a restart: a phone
//! that moved to the new key refuses answers from the old one (it keeps its check-in
//! queued and sends it again).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use pramaan_core::ServerKey;
use pramaan_core::agent::answer_keys as chain;
use pramaan_core::claims::Protocol;
use serde::{Deserialize, Serialize};

use crate::server::Paths;
use crate::store::{LogEntry, StoreError, transaction};

/// How often a running server looks at the key files.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);

/// Why the answer keys could not be read or rotated.
#[derive(Debug, thiserror::Error)]
pub enum AnswerKeyError {
    /// A key file or the chain could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A key file does not hold an Ed25519 key.
    #[error("{path}: {reason}")]
    BadKey {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `answer-keys.json` does not parse or does not chain to `server.key`.
    #[error(
        "{path}: {reason}; restore the data directory's answer-keys.json and server.key from the same backup"
    )]
    BadChain {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The data directory cannot rotate (not initialized, or checkpoints signed by
    /// `server.key`).
    #[error("{0}")]
    Refused(String),
    /// The store failed; nothing was rotated.
    #[error("recording the rotation in the audit log: {0}")]
    Store(#[from] StoreError),
    /// The server's data directory could not be opened.
    #[error("{0}")]
    Server(String),
}

/// One rotation as `answer-keys.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// The key replaced, hex.
    pub old_key: String,
    /// The key that signs from `since`, hex.
    pub new_key: String,
    /// When, seconds since the Unix epoch.
    pub since: u64,
    /// The endorsement of `new_key` by `old_key` (COSE_Sign1), hex.
    pub endorsement: String,
    /// Whether the old private key was kept to answer v1 devices enrolled under it.
    pub old_kept: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
    rotations: Vec<Rotation>,
}

/// The keys one instance signs with, as the files said when last read.
#[derive(Debug)]
pub struct KeySet {
    /// The newest key: signs every answer to this release's agents.
    pub current: ServerKey,
    /// Its `kid`.
    pub kid: Vec<u8>,
    /// Every endorsement, oldest first (what answers carry).
    pub chain: Vec<Vec<u8>>,
    /// Every rotation, oldest first.
    pub rotations: Vec<Rotation>,
    /// Old keys kept for v1 devices, by public key.
    kept: HashMap<[u8; 32], (ServerKey, Vec<u8>)>,
}

impl KeySet {
    /// Reads the data directory's answer keys.
    pub fn load(paths: &Paths) -> Result<Self, AnswerKeyError> {
        let rotations = read_chain(&paths.answer_chain())?.rotations;
        let mut current = load_key(&paths.server_key())?;
        if let Some(last) = rotations.last()
            && last.new_key != hex::encode(current.public_key())
        {
            // A rotation between writing the chain and replacing server.key.
            let next =
                load_key(&paths.answer_next_key()).map_err(|_| AnswerKeyError::BadChain {
                    path: paths.answer_chain().display().to_string(),
                    reason: format!(
                        "the newest rotation names key {} but server.key is {}",
                        last.new_key,
                        hex::encode(current.public_key())
                    ),
                })?;
            if last.new_key != hex::encode(next.public_key()) {
                return Err(AnswerKeyError::BadChain {
                    path: paths.answer_chain().display().to_string(),
                    reason: format!(
                        "the newest rotation names key {}, which is in neither server.key nor answer-keys/next.key",
                        last.new_key
                    ),
                });
            }
            current = next;
        }
        let mut chain_bytes = Vec::with_capacity(rotations.len());
        let mut kept = HashMap::new();
        for (i, r) in rotations.iter().enumerate() {
            let bad = |reason: String| AnswerKeyError::BadChain {
                path: paths.answer_chain().display().to_string(),
                reason: format!("rotation {}: {reason}", i + 1),
            };
            let bytes = hex::decode(&r.endorsement).map_err(|e| bad(e.to_string()))?;
            let old: [u8; 32] = hex::decode(&r.old_key)
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| bad("old_key is not 32 bytes of hex".into()))?;
            let e = chain::verify(&old, &bytes).map_err(bad)?;
            if e.to_key().map(hex::encode).as_deref() != Some(r.new_key.as_str()) {
                return Err(bad("the endorsement names another key".into()));
            }
            if i > 0 && rotations[i - 1].new_key != r.old_key {
                return Err(bad(
                    "it does not start at the key the one before ended with".into(),
                ));
            }
            if r.old_kept {
                let path = paths.answer_kept_key(&r.old_key);
                match load_key(&path) {
                    Ok(k) if k.public_key() == old => {
                        let kid = crate::api::server_kid(&k);
                        kept.insert(old, (k, kid));
                    }
                    // Deleted by the operator (the v1 period is over): those v1 devices
                    // get the newest key's answers.
                    Ok(_) | Err(_) => log::warn!(
                        "{} is missing or not the key it should be: v1 devices enrolled \
                         before rotation {} get answers they cannot verify",
                        crate::log_text::untrusted(&path.display().to_string()),
                        crate::log_text::untrusted(&(i + 1).to_string())
                    ),
                }
            }
            chain_bytes.push(bytes);
        }
        Ok(Self {
            kid: crate::api::server_kid(&current),
            current,
            chain: chain_bytes,
            rotations,
            kept,
        })
    }

    /// The key (and kid) that signs an answer to a device speaking `protocol` that
    /// enrolled at `enrolled_at`: the newest for this release's agents (they follow the
    /// chain); for a v1 device, the key in force when it enrolled if it was kept, else
    /// the newest (that v1 phone cannot verify it: the officer must update the app).
    pub fn signer_for(&self, protocol: Protocol, enrolled_at: u64) -> (&ServerKey, &[u8]) {
        if protocol == Protocol::V1
            && let Some(r) = self.rotations.iter().find(|r| r.since > enrolled_at)
            && let Some((key, kid)) = hex::decode(&r.old_key)
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .and_then(|k| self.kept.get(&k))
        {
            return (key, kid);
        }
        (&self.current, &self.kid)
    }

    /// The newest key (receipts; answers to this release's agents).
    pub fn newest(&self) -> (&ServerKey, &[u8]) {
        (&self.current, &self.kid)
    }
}

/// The answer keys a running instance signs with, re-read when the files change.
#[derive(Debug)]
pub struct AnswerKeys {
    paths: Paths,
    keys: RwLock<Arc<KeySet>>,
}

impl AnswerKeys {
    /// Loads the data directory's keys.
    pub fn load(paths: &Paths) -> Result<Self, AnswerKeyError> {
        Ok(Self {
            keys: RwLock::new(Arc::new(KeySet::load(paths)?)),
            paths: paths.clone(),
        })
    }

    /// The keys in force.
    pub fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the files again; `true` when the newest key changed. A failed read keeps
    /// the keys in force (a rotation in progress reads whole at the next try).
    pub fn refresh(&self) -> Result<bool, AnswerKeyError> {
        let fresh = KeySet::load(&self.paths)?;
        let old = self.current();
        if fresh.current.public_key() == old.current.public_key()
            && fresh.rotations == old.rotations
            && fresh.kept.len() == old.kept.len()
        {
            return Ok(false);
        }
        let changed = fresh.current.public_key() != old.current.public_key();
        match self.keys.write() {
            Ok(mut k) => *k = Arc::new(fresh),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(fresh),
        }
        Ok(changed)
    }
}

/// Keeps `shared`'s answer keys in step with the data directory: a thread that calls
/// [`AnswerKeys::refresh`] every [`FOLLOW_INTERVAL`] until the server's state is dropped.
pub fn follow(shared: Weak<crate::api::Shared>) {
    crate::api::follow_every("answer keys", FOLLOW_INTERVAL, shared, |state| match state
        .answer_keys
        .refresh()
    {
        Ok(true) => log::info!(
            "the answer key was rotated: answers are signed by {} from now on",
            crate::log_text::untrusted(&hex::encode(
                state.answer_keys.current().current.public_key()
            ))
        ),
        Ok(false) => {}
        Err(e) => log::warn!(
            "reading the answer keys (the ones in force stay): {}",
            crate::log_text::untrusted(&e.to_string())
        ),
    });
}

/// What [`rotate`] did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The key replaced, hex.
    pub old_key: String,
    /// The key that signs now, hex.
    pub new_key: String,
    /// When.
    pub since: u64,
    /// Whether the old private key was kept for v1 devices (and where).
    pub kept: Option<PathBuf>,
    /// The audit log's index of the `answer_key_rotated` entry.
    pub log_index: u64,
    /// How many rotations the chain holds now.
    pub rotations: usize,
}

/// Rotates the answer key of the data directory `dir` at `now`: a new key, endorsed by
/// the old one, logged, then in force. `retire`: the old key leaked; its private key is
/// not kept even for v1 devices.
pub fn rotate(dir: &Path, now: u64, retire: bool) -> Result<Rotated, AnswerKeyError> {
    let paths = Paths::new(dir);
    if !paths.server_key().exists() {
        return Err(AnswerKeyError::Refused(format!(
            "{} is not an initialized data directory (no server.key); give the directory \
             `pramaan admin init` made",
            dir.display()
        )));
    }
    if !paths.log_key().exists() {
        return Err(AnswerKeyError::Refused(format!(
            "{} signs its audit-log checkpoints with server.key (made by an older pramaan): \
             rotating it would invalidate the published log.vkey; rotate the log key first \
             (`pramaan admin rotate-key log`), then the answer key",
            dir.display()
        )));
    }
    let config =
        crate::config::Config::load(dir).map_err(|e| AnswerKeyError::Server(e.to_string()))?;
    let before = KeySet::load(&paths)?;
    let old = &before.current;
    let new = ServerKey::generate().map_err(|e| AnswerKeyError::Server(e.to_string()))?;
    let new_pub = new.public_key();
    let endorsement = chain::endorse(old, &new_pub, now);
    let keep = !retire && now < config.previous_protocol_until;
    let store =
        crate::server::open_store(dir).map_err(|e| AnswerKeyError::Server(e.to_string()))?;

    // 1. The new key, where a loader finds it if the rotation stops half-way.
    std::fs::create_dir_all(paths.answer_keys_dir()).map_err(io(&paths.answer_keys_dir()))?;
    save(&new, &paths.answer_next_key())?;
    let kept = if keep {
        let path = paths.answer_kept_key(&hex::encode(old.public_key()));
        save(old, &path)?;
        Some(path)
    } else {
        None
    };
    // 2. The log: the rotation is on record before anything signs with the new key.
    let entry = LogEntry::AnswerKeyRotated {
        at: now,
        old_key: old.public_key().to_vec(),
        new_key: new_pub.to_vec(),
        endorsement: endorsement.clone(),
        by: crate::credentials::ADMIN_CLI.to_string(),
    };
    let log_index = match transaction(store.as_ref(), |tx| {
        tx.append_log(&entry).map_err(AnswerKeyError::Store)
    }) {
        Ok(i) => i,
        Err(e) => {
            // Nothing rotated: leave no key file behind either.
            let _ = std::fs::remove_file(paths.answer_next_key());
            if let Some(path) = &kept {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    // 3. The chain, then server.key.
    let mut rotations = before.rotations.clone();
    rotations.push(Rotation {
        old_key: hex::encode(old.public_key()),
        new_key: hex::encode(new_pub),
        since: now,
        endorsement: hex::encode(&endorsement),
        old_kept: keep,
    });
    write_chain(
        &paths.answer_chain(),
        &ChainFile {
            rotations: rotations.clone(),
        },
    )?;
    std::fs::rename(paths.answer_next_key(), paths.server_key())
        .map_err(io(&paths.server_key()))?;
    log::info!(
        "answer key rotated: {} -> {} (log entry {}; old key kept for v1 devices: {})",
        crate::log_text::untrusted(&hex::encode(old.public_key())),
        crate::log_text::untrusted(&hex::encode(new_pub)),
        crate::log_text::untrusted(&log_index.to_string()),
        crate::log_text::untrusted(if keep { "yes" } else { "no" })
    );
    Ok(Rotated {
        old_key: hex::encode(old.public_key()),
        new_key: hex::encode(new_pub),
        since: now,
        kept,
        log_index,
        rotations: rotations.len(),
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AnswerKeyError + '_ {
    move |source| AnswerKeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn load_key(path: &Path) -> Result<ServerKey, AnswerKeyError> {
    ServerKey::load(path).map_err(|e| AnswerKeyError::BadKey {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn save(key: &ServerKey, path: &Path) -> Result<(), AnswerKeyError> {
    key.save(path).map_err(|e| AnswerKeyError::BadKey {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn read_chain(path: &Path) -> Result<ChainFile, AnswerKeyError> {
    let bytes =
        pramaan_core::fsutil::read_if_exists(path).map_err(|source| AnswerKeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
    match bytes {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| AnswerKeyError::BadChain {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        None => Ok(ChainFile::default()),
    }
}

fn write_chain(path: &Path, chain: &ChainFile) -> Result<(), AnswerKeyError> {
    let bytes = serde_json::to_vec_pretty(chain).map_err(|e| AnswerKeyError::BadChain {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    pramaan_core::fsutil::write_atomic(path, &bytes, 0o600).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation_set(n: usize, keep: bool) -> (Vec<ServerKey>, KeySet) {
        let keys: Vec<ServerKey> = (0..=n)
            .map(|_| ServerKey::generate().expect("key"))
            .collect();
        let mut rotations = Vec::new();
        let mut chain_bytes = Vec::new();
        let mut kept = HashMap::new();
        for (i, w) in keys.windows(2).enumerate() {
            let e = chain::endorse(&w[0], &w[1].public_key(), 1000 * (i as u64 + 1));
            rotations.push(Rotation {
                old_key: hex::encode(w[0].public_key()),
                new_key: hex::encode(w[1].public_key()),
                since: 1000 * (i as u64 + 1),
                endorsement: hex::encode(&e),
                old_kept: keep,
            });
            chain_bytes.push(e);
            if keep {
                let k = ServerKey::from_pkcs8(&pkcs8_of(&w[0])).expect("copy");
                let kid = crate::api::server_kid(&k);
                kept.insert(w[0].public_key(), (k, kid));
            }
        }
        let current = ServerKey::from_pkcs8(&pkcs8_of(&keys[n])).expect("copy");
        let set = KeySet {
            kid: crate::api::server_kid(&current),
            current,
            chain: chain_bytes,
            rotations,
            kept,
        };
        (keys, set)
    }

    fn pkcs8_of(k: &ServerKey) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("k");
        k.save(&p).expect("save");
        std::fs::read(p).expect("read")
    }

    /// A v1 device gets the key in force when it enrolled (if kept); a v2 device always
    /// the newest; a retired old key is never used.
    #[test]
    fn each_device_is_answered_by_a_key_it_can_verify() {
        let (keys, set) = rotation_set(2, true);
        let pk = |p, at| set.signer_for(p, at).0.public_key();
        assert_eq!(pk(Protocol::V1, 500), keys[0].public_key());
        assert_eq!(pk(Protocol::V1, 1500), keys[1].public_key());
        assert_eq!(pk(Protocol::V1, 2500), keys[2].public_key());
        for at in [500, 1500, 2500] {
            assert_eq!(pk(Protocol::V2, at), keys[2].public_key());
        }
        let (keys, retired) = rotation_set(2, false);
        assert_eq!(
            retired.signer_for(Protocol::V1, 500).0.public_key(),
            keys[2].public_key()
        );
    }

    /// Refused without a change: a directory that is not initialized. A rotation
    /// interrupted after the chain was written and before server.key was replaced is
    /// read with the new key (`next.key`); a chain naming a key found nowhere is refused.
    #[test]
    fn interrupted_rotations_load_and_bad_directories_are_refused() {
        let empty = tempfile::tempdir().expect("dir");
        assert!(matches!(
            rotate(empty.path(), 1, false),
            Err(AnswerKeyError::Refused(_))
        ));
        assert_eq!(std::fs::read_dir(empty.path()).expect("ls").count(), 0);

        let dir = tempfile::tempdir().expect("dir");
        let paths = Paths::new(dir.path());
        let old = ServerKey::generate().expect("key");
        let new = ServerKey::generate().expect("key");
        save(&old, &paths.server_key()).expect("save");
        std::fs::create_dir_all(paths.answer_keys_dir()).expect("mkdir");
        let rotation = Rotation {
            old_key: hex::encode(old.public_key()),
            new_key: hex::encode(new.public_key()),
            since: 5,
            endorsement: hex::encode(chain::endorse(&old, &new.public_key(), 5)),
            old_kept: false,
        };
        write_chain(
            &paths.answer_chain(),
            &ChainFile {
                rotations: vec![rotation],
            },
        )
        .expect("chain");
        // server.key still the old one, next.key missing: refused, naming the keys.
        let e = KeySet::load(&paths).expect_err("inconsistent");
        assert!(e.to_string().contains("server.key"), "{e}");
        save(&new, &paths.answer_next_key()).expect("save");
        let set = KeySet::load(&paths).expect("completes");
        assert_eq!(set.current.public_key(), new.public_key());
        assert_eq!(set.chain.len(), 1);
    }
}
