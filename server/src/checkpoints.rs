//! Signing the audit log's checkpoints so that the server cannot fork its log quietly.
//!
//! Why: a checkpoint is the server's signed word that the log of `size` entries has root
//! `root`. An auditor who kept an earlier checkpoint checks that the new one extends it
//! (a consistency proof); but a server that signs whatever tree its database holds today
//! would sign a rewritten history just as readily, and an auditor without the earlier
//! note would never know. So the server keeps every checkpoint it signs (the store's
//! `checkpoints` table) and, before signing a new one, checks the tree against the last
//! one it published ([`check_before_signing`]): a log that shrank, or whose old prefix no
//! longer has the root it signed (a consistency proof computed from its own store, checked
//! against the stored root), is refused. Refusing means: no signature, an error log naming
//! both sizes, `pramaan_checkpoint_refusals_total` counted, and the last good checkpoint
//! served again (a 503 only if there is none, which cannot happen: a refusal needs one).
//!
//! When the log has not grown since the stored checkpoint, the stored note is served as
//! is (no signing, no write). Signing happens in a write transaction, so two requests
//! never sign two different trees of the same size, and the log cannot grow between the
//! check and the signature.
//!
//! Consistency says the server did not rewrite what it signed; it says nothing of what the
//! new entries mean. So before signing, the server also replays the entries added since
//! its last check with the auditor's own verifier ([`pramaan_tlog::semantics`], kept in
//! memory by [`Guard`] and fed from a read snapshot, outside the writer's transaction): an
//! entry written into the database behind the server's back (a replayed or relabelled
//! token, a duplicate, a verdict that the logged inputs do not give) is refused like a
//! rewritten prefix, and stays refused: the server never signs a tree containing it. The
//! checkpoint signed is of the size the replay reached, so nothing unchecked is signed.
//!
//! A new checkpoint is then offered to every configured witness
//! ([`crate::witness_client`], C2SP tlog-witness) outside the writer's transaction (a
//! witness is a network call and must never hold up devices); the note with the
//! cosignatures obtained is stored as a further row of the same size, so it is what
//! `GET /v1/audit/checkpoint` serves from then on and what survives a restart.

use std::sync::Mutex;

use pramaan_tlog::semantics::Replay;
use pramaan_tlog::{Hash, LogEntry, LogError, LogSigner, NoteError, ProofError};

use crate::metrics::Metrics;
use crate::store::{CheckpointRow, Store, StoreError, Tx, read_transaction, transaction};
use crate::witness_client::{WitnessEndpoint, collect_cosignatures};

/// Why a new checkpoint was not signed. Each names the stored checkpoint's size and the
/// size the log has now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The log has fewer entries than a checkpoint already signed.
    #[error("the log has {size} entries, fewer than the {last} of the last signed checkpoint")]
    Shrank {
        /// Size of the last signed checkpoint.
        last: u64,
        /// Size of the log now.
        size: u64,
    },
    /// The first `last` entries no longer hash to the root the server signed for them.
    #[error(
        "the log of {size} entries is not consistent with the last signed checkpoint of \
         {last} entries ({reason}): entries it signed were changed or lost"
    )]
    Inconsistent {
        /// Size of the last signed checkpoint.
        last: u64,
        /// Size of the log now.
        size: u64,
        /// What the consistency check found.
        reason: String,
    },
    /// The log's last key rotation hands over to another key than the one this server
    /// signs with: it has not read the new `log.key` yet (re-read every few seconds), or
    /// an interrupted rotation left the old one (`pramaan admin rotate-key log` finishes
    /// it).
    #[error(
        "the key rotation at entry {index} hands the log to key {key}, but this server \
         holds {signer}; it signs again once it reads the new log.key (if this lasts, run \
         `pramaan admin rotate-key log --data DIR` to finish an interrupted rotation)"
    )]
    KeyRotated {
        /// The rotation entry.
        index: u64,
        /// The key it hands over to (label).
        key: String,
        /// The key this server holds (label).
        signer: String,
    },
    /// An entry does not mean what a genuine log would (the server's own replay of its
    /// log, [`Guard`]): never signed, now or later.
    #[error(
        "entry {index} of the log does not mean what the server would have written: \
         {message} ({count} such entries; none of them is signed)"
    )]
    Meaning {
        /// The first entry found.
        index: u64,
        /// What is wrong with it.
        message: String,
        /// Entries found so far.
        count: usize,
    },
}

/// Entries read per snapshot while the guard catches up.
const FEED_CHUNK: u64 = 10_000;

/// The server's replay of its own log ([`pramaan_tlog::semantics::Replay`], from entry 0),
/// fed before each new checkpoint with the entries added since. Its memory grows with the
/// devices and tokens of the log (a hash per token).
#[derive(Debug)]
pub struct Guard {
    state: Mutex<GuardState>,
}

#[derive(Debug)]
struct GuardState {
    replay: Replay,
    /// Entries replayed so far: the next one to feed.
    fed: u64,
    /// An entry that could not be read as an entry at all.
    unreadable: Option<(u64, String)>,
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Guard {
    /// A replay of an empty log.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(GuardState {
                replay: Replay::new(true),
                fed: 0,
                unreadable: None,
            }),
        }
    }

    /// Replays the entries up to `size` not yet replayed, reading them from snapshots of
    /// `store`; `Ok(Err(refusal))` if any entry so far does not mean what it should.
    pub fn check_up_to(
        &self,
        store: &dyn Store,
        size: u64,
    ) -> Result<Result<(), Refusal>, CheckpointError> {
        self.feed(size, |start, end| {
            read_transaction(store, |tx| {
                tx.log().leaves(start, end).map_err(CheckpointError::from)
            })
        })
    }

    /// [`Guard::check_up_to`] reading from the caller's transaction (the key rotation
    /// checks the whole tree its handover checkpoint signs, inside its write).
    pub fn check_in(
        &self,
        tx: &mut dyn Tx,
        size: u64,
    ) -> Result<Result<(), Refusal>, CheckpointError> {
        self.feed(size, |start, end| {
            tx.log().leaves(start, end).map_err(CheckpointError::from)
        })
    }

    /// The checkpoint key the log's last rotation handed over to, and the rotation's
    /// index, as far as the replay got.
    pub fn log_key(&self) -> Option<(u64, pramaan_tlog::VerifierKey)> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.replay.log_key().map(|(i, k)| (i, k.clone()))
    }

    fn feed(
        &self,
        size: u64,
        mut read: impl FnMut(u64, u64) -> Result<Vec<(u64, Vec<u8>)>, CheckpointError>,
    ) -> Result<Result<(), Refusal>, CheckpointError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.fed < size && st.unreadable.is_none() {
            let end = size.min(st.fed.saturating_add(FEED_CHUNK));
            let leaves = read(st.fed, end)?;
            if leaves.is_empty() {
                break;
            }
            for (index, leaf) in leaves {
                if index != st.fed {
                    st.unreadable = Some((st.fed, "entry missing from the store".into()));
                    break;
                }
                match LogEntry::from_leaf(&leaf) {
                    Ok(entry) => st.replay.step(index, &entry),
                    Err(e) => {
                        st.unreadable = Some((index, e.to_string()));
                        break;
                    }
                }
                st.fed += 1;
            }
        }
        let violations = &st.replay.report().violations;
        let found = match (&st.unreadable, violations.first()) {
            (Some((index, message)), first) => Some((
                first.map_or(*index, |v| v.index.min(*index)),
                first.map_or_else(|| message.clone(), |v| v.message.clone()),
            )),
            (None, Some(v)) => Some((v.index, v.message.clone())),
            (None, None) => None,
        };
        Ok(match found {
            Some((index, message)) => Err(Refusal::Meaning {
                index,
                message,
                count: violations.len() + usize::from(st.unreadable.is_some()),
            }),
            None => Ok(()),
        })
    }
}

/// Why no checkpoint could be served.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log's rows could not be read as a tree.
    #[error("audit log: {0}")]
    Log(String),
    /// The note could not be signed (a bad origin).
    #[error("signing the checkpoint: {0}")]
    Sign(#[from] NoteError),
    /// A new checkpoint was refused and there is no earlier one to serve.
    #[error("no checkpoint can be served: {0}")]
    NoGoodCheckpoint(Refusal),
}

impl From<LogError> for CheckpointError {
    fn from(e: LogError) -> Self {
        match StoreError::from_log(e) {
            StoreError::Log(m) => CheckpointError::Log(m),
            other => CheckpointError::Store(other),
        }
    }
}

/// The checkpoint to serve now: the stored one when the log has not grown since, else a
/// new one, signed and stored after [`check_before_signing`] accepted the tree; on a
/// refusal the last stored one (logged and counted in `metrics`). `now` is the signing
/// time recorded with a new one. A new checkpoint is offered to `witnesses`; the note
/// served carries the cosignatures obtained.
pub fn current(
    store: &dyn Store,
    signer: &LogSigner,
    metrics: &Metrics,
    witnesses: &[WitnessEndpoint],
    guard: &Guard,
    now: u64,
) -> Result<String, CheckpointError> {
    // Fast path on the read snapshot (no writer wait): nothing new to sign.
    let (last, size) = read_transaction(store, |tx| {
        Ok::<_, CheckpointError>((tx.latest_checkpoint()?, tx.log().size()?))
    })?;
    if let Some(l) = &last
        && l.size == size
    {
        return Ok(l.note.clone());
    }
    // What the new entries mean, checked before the writer is involved; the checkpoint
    // is then signed at the size checked.
    let outcome = match guard.check_up_to(store, size)? {
        Ok(()) => match guard.log_key() {
            // The log was handed to another key (`admin rotate-key log`): the old key
            // never signs again, even before this server has read the new one.
            Some((index, key)) if key != signer.verifier() => Signed::Refused(
                Refusal::KeyRotated {
                    index,
                    key: key.label(),
                    signer: signer.verifier().label(),
                },
                last,
            ),
            _ => transaction(store, |tx| sign_if_consistent(tx, signer, size, now))?,
        },
        Err(refusal) => Signed::Refused(refusal, last),
    };
    match outcome {
        Signed::Note(note) => Ok(note),
        Signed::New(row) => Ok(witness(store, row, witnesses)),
        Signed::Refused(refusal, last) => {
            // The refusal quotes the entries' problems, which may quote device claims.
            log::error!(
                "refusing to sign a checkpoint: {}",
                crate::log_text::untrusted(&refusal.to_string())
            );
            metrics.checkpoint_refusal();
            match last {
                Some(last) => Ok(last.note),
                None => Err(CheckpointError::NoGoodCheckpoint(refusal)),
            }
        }
    }
}

/// What [`sign_if_consistent`] did.
enum Signed {
    /// The stored note to serve (the log did not grow).
    Note(String),
    /// A new checkpoint, signed and stored.
    New(CheckpointRow),
    /// Refused: why, and the last good checkpoint.
    Refused(Refusal, Option<CheckpointRow>),
}

/// Inside the writer's transaction: re-reads the latest checkpoint and the size, and
/// signs and stores a checkpoint of the log as it is if the checks pass.
fn sign_if_consistent(
    tx: &mut dyn Tx,
    signer: &LogSigner,
    checked: u64,
    now: u64,
) -> Result<Signed, CheckpointError> {
    let last = tx.latest_checkpoint()?;
    // The log may have grown since the guard replayed it: sign what was checked (a size
    // past the log's end is refused below as a shrunk log).
    let size = checked;
    let actual = tx.log().size()?;
    if actual < size {
        let refusal = Refusal::Shrank {
            last: size,
            size: actual,
        };
        return Ok(Signed::Refused(refusal, last));
    }
    // Another writer signed this size, or a larger one the log still holds, since the
    // fast path read (another request, or another instance on the same database): serve
    // it. Refusing it as a shrunk log would be a false alarm.
    if let Some(last) = &last
        && last.size >= size
        && last.size <= actual
    {
        return Ok(Signed::Note(last.note.clone()));
    }
    let root = match pramaan_tlog::root(tx.log(), size).map_err(CheckpointError::from) {
        Ok(root) => root,
        // A tree whose nodes are missing or malformed is not signed either.
        Err(CheckpointError::Store(StoreError::Corrupt(m))) if last.is_some() => {
            let last_size = last.as_ref().map_or(0, |l| l.size);
            let refusal = Refusal::Inconsistent {
                last: last_size,
                size,
                reason: format!("its root cannot be computed: {m}"),
            };
            return Ok(Signed::Refused(refusal, last));
        }
        Err(e) => return Err(e),
    };
    if let Some(l) = &last
        && let Err(refusal) = check_before_signing(tx, l, size, &root)?
    {
        return Ok(Signed::Refused(refusal, last));
    }
    let note = signer.sign_checkpoint(size, &root)?;
    let row = CheckpointRow {
        size,
        root,
        note,
        signed_at: now,
    };
    tx.insert_checkpoint(&row)?;
    Ok(Signed::New(row))
}

/// Offers a new checkpoint to the witnesses (consistency proofs read from the store's
/// snapshot) and stores the cosigned note as a further row of the same size. Witnesses
/// never block the log: a witness that fails is logged by the client, and a failure to
/// store the cosigned note is logged and the note still served.
fn witness(store: &dyn Store, row: CheckpointRow, witnesses: &[WitnessEndpoint]) -> String {
    if witnesses.is_empty() {
        return row.note;
    }
    // A larger checkpoint signed meanwhile (by another instance on the same database, or
    // a concurrent request) is offered by its signer; offering this one after it would
    // meet a witness already past it (a 409 the client would report as a fork). The
    // race remains between two offers in flight at once: one of them then gets no
    // cosignature, and the next checkpoint gets them again.
    if let Ok(Some(latest)) = read_transaction(store, |tx| tx.latest_checkpoint())
        && latest.size > row.size
    {
        return row.note;
    }
    let mut proof = |old: u64, new: u64| {
        read_transaction(store, |tx| {
            pramaan_tlog::consistency_proof(tx.log(), old, new).map_err(StoreError::from_log)
        })
        .map_err(|e| e.to_string())
    };
    let cosigned = collect_cosignatures(&row.note, witnesses, &mut proof);
    if cosigned != row.note {
        let stored = CheckpointRow {
            note: cosigned.clone(),
            ..row
        };
        if let Err(e) = transaction(store, |tx| tx.insert_checkpoint(&stored)) {
            log::error!(
                "keeping the cosigned checkpoint of size {}: {e}",
                stored.size
            );
        }
    }
    cosigned
}

/// The checks a tree of `size` entries with root `root` must pass before the server signs
/// it, given the `last` checkpoint it signed: not smaller, and consistent with it (a
/// consistency proof computed from the store's own nodes, verified against the stored
/// root). `Ok(Err(refusal))` refuses; `Err` is a store failure.
pub fn check_before_signing(
    tx: &mut dyn Tx,
    last: &CheckpointRow,
    size: u64,
    root: &Hash,
) -> Result<Result<(), Refusal>, CheckpointError> {
    if size < last.size {
        return Ok(Err(Refusal::Shrank {
            last: last.size,
            size,
        }));
    }
    let inconsistent = |reason: String| Refusal::Inconsistent {
        last: last.size,
        size,
        reason,
    };
    let proof = if last.size == 0 || last.size == size {
        Vec::new()
    } else {
        match pramaan_tlog::consistency_proof(tx.log(), last.size, size) {
            Ok(p) => p,
            // A missing or malformed node: the tree cannot be vouched for.
            Err(e) => match CheckpointError::from(e) {
                CheckpointError::Store(StoreError::Corrupt(m)) | CheckpointError::Log(m) => {
                    return Ok(Err(inconsistent(format!("no consistency proof: {m}"))));
                }
                other => return Err(other),
            },
        }
    };
    match pramaan_tlog::verify_consistency(last.size, size, &last.root, root, &proof) {
        Ok(()) => Ok(Ok(())),
        Err(ProofError::RootMismatch) => Ok(Err(inconsistent(
            "the proof does not lead to the signed root".into(),
        ))),
        Err(e) => Ok(Err(inconsistent(e.to_string()))),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{LogEntry, SqliteStore};
    use pramaan_core::keys::ServerKey;

    fn entry(i: u64) -> LogEntry {
        LogEntry::ApiTokenIssued {
            at: i,
            role: "auditor".into(),
            department: None,
            label: format!("auditor-{i}"),
            token_hash: vec![i as u8; 32],
        }
    }

    fn append(store: &dyn Store, n: u64) {
        transaction(store, |tx| {
            for i in 0..n {
                tx.append_log(&entry(i))?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("append");
    }

    fn stored(store: &dyn Store) -> Vec<CheckpointRow> {
        read_transaction(store, |tx| tx.checkpoints(0, 100)).expect("checkpoints")
    }

    #[test]
    fn signs_once_per_size_and_keeps_every_note() {
        let store = SqliteStore::in_memory().expect("store");
        let signer = LogSigner::new("t/log".into(), ServerKey::generate().expect("k"));
        let m = Metrics::new();
        let guard = Guard::new();
        let a = current(&store, &signer, &m, &[], &guard, 10).expect("cp");
        assert_eq!(
            current(&store, &signer, &m, &[], &guard, 11).expect("cp"),
            a
        );
        append(&store, 3);
        let b = current(&store, &signer, &m, &[], &guard, 12).expect("cp");
        assert_ne!(a, b);
        let rows = stored(&store);
        assert_eq!(
            rows.iter()
                .map(|r| (r.size, r.signed_at))
                .collect::<Vec<_>>(),
            vec![(0, 10), (3, 12)]
        );
        assert_eq!(
            (rows[0].note.as_str(), rows[1].note.as_str()),
            (a.as_str(), b.as_str())
        );
        assert!(m.render().contains("pramaan_checkpoint_refusals_total 0\n"));
    }

    #[test]
    fn a_changed_prefix_or_a_shrunk_log_is_refused_naming_both_sizes() {
        let store = SqliteStore::in_memory().expect("store");
        append(&store, 5);
        let root5 = read_transaction(&store, |tx| {
            pramaan_tlog::root(tx.log(), 5).map_err(CheckpointError::from)
        })
        .expect("root");
        let last = CheckpointRow {
            size: 5,
            root: root5,
            note: String::new(),
            signed_at: 0,
        };
        let mut other = root5;
        other[0] ^= 1;
        let forged = CheckpointRow {
            root: other,
            ..last.clone()
        };
        append(&store, 2);
        transaction(&store, |tx| {
            let root7 = pramaan_tlog::root(tx.log(), 7)?;
            assert_eq!(
                check_before_signing(tx, &last, 7, &root7).expect("check"),
                Ok(())
            );
            let refused = check_before_signing(tx, &forged, 7, &root7).expect("check");
            let Err(
                r @ Refusal::Inconsistent {
                    last: 5, size: 7, ..
                },
            ) = refused
            else {
                panic!("{refused:?}");
            };
            let text = r.to_string();
            assert!(
                text.contains("7 entries") && text.contains("5 entries"),
                "{text}"
            );
            let refused = check_before_signing(tx, &last, 4, &root7).expect("check");
            assert_eq!(refused, Err(Refusal::Shrank { last: 5, size: 4 }));
            Ok::<_, CheckpointError>(())
        })
        .expect("tx");
    }

    /// Two writers on one log (two requests, or two instances on one PostgreSQL
    /// database): one checked size 3, the other signed size 5 before the first reached
    /// the writer. The first serves the newer note; nothing is refused or signed again.
    #[test]
    fn a_larger_checkpoint_signed_meanwhile_is_served_not_refused() {
        let store = SqliteStore::in_memory().expect("store");
        let signer = LogSigner::new("t/log".into(), ServerKey::generate().expect("k"));
        let m = Metrics::new();
        let (guard_a, guard_b) = (Guard::new(), Guard::new());
        append(&store, 3);
        assert_eq!(guard_a.check_up_to(&store, 3).expect("check"), Ok(()));
        append(&store, 2);
        let five = current(&store, &signer, &m, &[], &guard_b, 10).expect("cp");
        let served =
            transaction(&store, |tx| sign_if_consistent(tx, &signer, 3, 11)).expect("sign");
        let Signed::Note(note) = served else {
            panic!("expected the stored note of size 5");
        };
        assert_eq!(note, five);
        assert_eq!(stored(&store).len(), 1);
        assert!(m.render().contains("pramaan_checkpoint_refusals_total 0\n"));
        // A log that really shrank below the signed size is still refused.
        let refused =
            transaction(&store, |tx| sign_if_consistent(tx, &signer, 6, 12)).expect("sign");
        assert!(matches!(
            refused,
            Signed::Refused(Refusal::Shrank { last: 6, size: 5 }, _)
        ));
    }

    /// An entry written behind the server's back that is not even an entry: the server
    /// refuses to sign any tree holding it, now and after the log grows, and says which.
    #[test]
    fn an_entry_the_replay_refuses_is_never_signed() {
        let store = SqliteStore::in_memory().expect("store");
        let signer = LogSigner::new("t/log".into(), ServerKey::generate().expect("k"));
        let m = Metrics::new();
        let guard = Guard::new();
        append(&store, 2);
        let a = current(&store, &signer, &m, &[], &guard, 10).expect("cp");
        transaction(&store, |tx| {
            pramaan_tlog::append_leaf(tx.log(), b"not an entry")?;
            Ok::<_, CheckpointError>(())
        })
        .expect("forged");
        assert_eq!(
            current(&store, &signer, &m, &[], &guard, 11).expect("cp"),
            a
        );
        append(&store, 1);
        assert_eq!(
            current(&store, &signer, &m, &[], &guard, 12).expect("cp"),
            a
        );
        assert!(m.render().contains("pramaan_checkpoint_refusals_total 2\n"));
        let refusal = guard
            .check_up_to(&store, 4)
            .expect("check")
            .expect_err("refused");
        assert!(
            matches!(refusal, Refusal::Meaning { index: 2, .. }),
            "{refusal}"
        );
        assert_eq!(stored(&store).len(), 1, "nothing new was signed");
    }
}
