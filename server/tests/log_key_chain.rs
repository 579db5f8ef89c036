#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code: a failed expectation is the test failing
//! The chain of checkpoint keys as an auditor checks it (`pramaan_tlog::bundle`), on logs
//! built here: two rotations in a row verify from the first key, with `--since` a
//! checkpoint of the first key or of the middle one; every forged chain fails naming what
//! is wrong: a rotation entry signed by another key than the one it hands over from, a
//! checkpoint of the new key whose rotation entry the bundle left out, a handover
//! checkpoint signed by the new key, and a handover checkpoint not consistent with the
//! bundle's. And the server never signs again with a key the log handed over from, even
//! before it reads the new one.

use pramaan_core::keys::ServerKey;
use pramaan_server::audit_log::bundle::{
    self, BuildOptions, Bundle, VerifyError, build_bundle_from_store_with_chain,
};
use pramaan_server::audit_log::{Checkpoint, LogEntry, LogSigner, proof};
use pramaan_server::checkpoints::{self, Guard};
use pramaan_server::metrics::Metrics;
use pramaan_server::store::{SqliteStore, Store, StoreError, read_transaction, transaction};
use pramaan_tlog::keychain::{KeyChain, Rotation, rotation_entry};

fn signer() -> LogSigner {
    LogSigner::new("chain.test/log".into(), ServerKey::generate().expect("key"))
}

fn token(i: u64) -> LogEntry {
    LogEntry::ApiTokenIssued {
        at: 100 + i,
        role: "auditor".into(),
        department: None,
        label: format!("auditor-{i}"),
        token_hash: vec![i as u8; 32],
    }
}

/// Appends entries; returns the index of the last.
fn append(store: &dyn Store, entries: &[LogEntry]) -> u64 {
    transaction(store, |tx| {
        let mut last = 0;
        for e in entries {
            last = tx.append_log(e)?;
        }
        Ok::<_, StoreError>(last)
    })
    .expect("append")
}

/// A checkpoint of the first `size` entries signed by `signer`.
fn sign(store: &dyn Store, signer: &LogSigner, size: u64) -> String {
    let root = read_transaction(store, |tx| {
        pramaan_tlog::root(tx.log(), size).map_err(StoreError::from_log)
    })
    .expect("root");
    signer.sign_checkpoint(size, &root).expect("sign")
}

fn build(store: &dyn Store, last: &LogSigner, chain: &KeyChain, since: Vec<Checkpoint>) -> Bundle {
    let opts = BuildOptions {
        since,
        ..BuildOptions::default()
    };
    read_transaction(store, |tx| {
        build_bundle_from_store_with_chain(tx.log(), last, chain, &opts)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    })
    .expect("bundle")
}

fn verify(b: &Bundle, vkey: &str, since: Option<&str>) -> Result<bundle::Summary, VerifyError> {
    bundle::verify_bundle(&b.to_bytes(), vkey, since)
}

/// A log handed from `a` to `b` at entry 3, then from `b` to `c` at entry 6; 9 entries.
struct TwoRotations {
    store: SqliteStore,
    keys: [LogSigner; 3],
    chain: KeyChain,
    /// Signed by `a` at size 3, before any rotation.
    before: String,
}

fn two_rotations() -> TwoRotations {
    let store = SqliteStore::in_memory().expect("store");
    let keys = [signer(), signer(), signer()];
    append(&store, &[token(0), token(1), token(2)]);
    let before = sign(&store, &keys[0], 3);
    let mut chain = KeyChain {
        keys: vec![keys[0].verifier_key()],
        rotations: Vec::new(),
    };
    for (k, more) in [(0usize, 4u64), (1, 7)] {
        let e = rotation_entry(&keys[k], &keys[k + 1].verifier(), 100, "admin-cli");
        let index = append(&store, &[e]);
        chain.rotations.push(Rotation {
            index,
            handover: sign(&store, &keys[k], index + 1),
        });
        chain.keys.push(keys[k + 1].verifier_key());
        append(&store, &[token(more), token(more + 1)]);
    }
    TwoRotations {
        store,
        keys,
        chain,
        before,
    }
}

#[test]
fn two_rotations_verify_from_the_first_key_with_since_of_any_key_of_the_chain() {
    let t = two_rotations();
    let since = bundle::since_checkpoint(&t.before).expect("cp");
    let b = build(&t.store, &t.keys[2], &t.chain, vec![since]);
    assert_eq!((b.version, b.key_chain.len(), b.start), (3, 2, 3));
    let first = t.keys[0].verifier_key();
    let s = verify(&b, &first, Some(&t.before)).expect("verifies");
    assert_eq!(
        (s.key_rotations, s.consistent_since, s.size),
        (2, Some(3), 9)
    );
    // A checkpoint kept between the rotations is signed by the middle key.
    let middle = sign(&t.store, &t.keys[1], 5);
    let b2 = build(
        &t.store,
        &t.keys[2],
        &t.chain,
        vec![bundle::since_checkpoint(&middle).expect("cp")],
    );
    assert_eq!(
        verify(&b2, &first, Some(&middle))
            .expect("verifies")
            .key_rotations,
        2
    );
    // An auditor given the middle key follows one step; the last key, none.
    let s = verify(&b, &t.keys[1].verifier_key(), None).expect("middle key");
    assert_eq!(s.key_rotations, 1);
    let s = verify(&b, &t.keys[2].verifier_key(), None).expect("last key");
    assert_eq!(s.key_rotations, 0);
    // An unrelated key of the same name follows nothing and says why.
    let err = verify(&b, &signer().verifier_key(), None).expect_err("another key");
    assert!(matches!(err, VerifyError::NoKeyChain { .. }), "{err}");
}

#[test]
fn a_checkpoint_of_a_new_key_without_its_rotation_is_refused() {
    let t = two_rotations();
    let first = t.keys[0].verifier_key();
    let mut b = build(&t.store, &t.keys[2], &t.chain, Vec::new());
    b.key_chain.pop();
    let err = verify(&b, &first, None).expect_err("second rotation left out");
    let text = err.to_string();
    assert!(
        matches!(err, VerifyError::NoKeyChain { .. })
            && text.contains("carries no rotation of the checkpoint key from chain.test/log+")
            && text.contains("is signed by"),
        "{text}"
    );
    b.key_chain.clear();
    b.version = bundle::BUNDLE_VERSION;
    let text = verify(&b, &first, None).expect_err("no chain").to_string();
    assert!(text.contains("carries no rotation"), "{text}");
    // Out of order.
    let mut b = build(&t.store, &t.keys[2], &t.chain, Vec::new());
    b.key_chain.swap(0, 1);
    assert!(verify(&b, &first, None).is_err());
}

#[test]
fn a_rotation_signed_by_another_key_is_refused() {
    let store = SqliteStore::in_memory().expect("store");
    let (a, b, x) = (signer(), signer(), signer());
    append(&store, &[token(0)]);
    // An entry naming a as the old key, but whose statement x signed.
    let LogEntry::LogKeyRotated { old, new, .. } =
        rotation_entry(&a, &b.verifier(), 200, "admin-cli")
    else {
        panic!("rotation");
    };
    let LogEntry::LogKeyRotated { signature, .. } =
        rotation_entry(&x, &b.verifier(), 200, "admin-cli")
    else {
        panic!("rotation");
    };
    let forged = LogEntry::LogKeyRotated {
        at: 200,
        old,
        new,
        signature,
        by: "admin-cli".into(),
    };
    let index = append(&store, &[forged, token(1)]) - 1;
    let chain = KeyChain {
        keys: vec![a.verifier_key(), b.verifier_key()],
        rotations: vec![Rotation {
            index,
            handover: sign(&store, &a, index + 1),
        }],
    };
    let bundle = build(&store, &b, &chain, Vec::new());
    let text = verify(&bundle, &a.verifier_key(), None)
        .expect_err("forged")
        .to_string();
    assert!(
        text.contains("checkpoint key rotation at entry 1")
            && text.contains("the signature over the rotation statement is not the key"),
        "{text}"
    );
}

#[test]
fn a_handover_signed_by_the_new_key_or_inconsistent_with_the_bundle_is_refused() {
    let t = two_rotations();
    let first = t.keys[0].verifier_key();
    let mut b = build(&t.store, &t.keys[2], &t.chain, Vec::new());
    b.key_chain[0].handover = sign(&t.store, &t.keys[1], 4);
    let text = verify(&b, &first, None).expect_err("new key").to_string();
    assert!(
        text.contains("entry 3: the handover checkpoint is not signed by the key in force"),
        "{text}"
    );

    // Another log (a fork) holding the same rotation entry at the same index: its
    // handover checkpoint, signed by the first key, holds the entry, but the bundle's
    // log is not an extension of it.
    let fork = SqliteStore::in_memory().expect("store");
    append(&fork, &[token(50), token(51), token(52)]);
    let rotation = read_transaction(&t.store, |tx| tx.log().leaves(3, 4)).expect("leaf");
    let entry = LogEntry::from_leaf(&rotation[0].1).expect("entry");
    append(&fork, &[entry]);
    let mut b = build(&t.store, &t.keys[2], &t.chain, Vec::new());
    b.key_chain[0].handover = sign(&fork, &t.keys[0], 4);
    b.key_chain[0].proof = proof::hashes_to_bytes(
        &read_transaction(&fork, |tx| {
            pramaan_tlog::inclusion_proof(tx.log(), 3, 4).map_err(StoreError::from_log)
        })
        .expect("proof"),
    );
    let text = verify(&b, &first, None).expect_err("fork").to_string();
    assert!(
        text.contains(
            "entry 3: the handover checkpoint of 4 entries is not consistent with \
                       the bundle's checkpoint of 9 entries"
        ),
        "{text}"
    );
}

/// After a rotation entry, the server refuses to sign with the old key (it serves the
/// last checkpoint and counts the refusal) and signs with the new one.
#[test]
fn the_server_never_signs_with_a_key_the_log_handed_over_from() {
    let store = SqliteStore::in_memory().expect("store");
    let (a, b) = (signer(), signer());
    let (m, guard) = (Metrics::new(), Guard::new());
    append(&store, &[token(0)]);
    let one = checkpoints::current(&store, &a, &m, &[], &guard, 10).expect("cp");
    append(
        &store,
        &[
            rotation_entry(&a, &b.verifier(), 100, "admin-cli"),
            token(1),
        ],
    );
    let served = checkpoints::current(&store, &a, &m, &[], &guard, 12).expect("cp");
    assert_eq!(served, one, "the old key signed nothing new");
    assert!(m.render().contains("pramaan_checkpoint_refusals_total 1\n"));
    let three = checkpoints::current(&store, &b, &m, &[], &guard, 13).expect("cp");
    let cp = b.verifier().verify_checkpoint(&three).expect("new key");
    assert_eq!(cp.size, 3);
}

/// A rotation interrupted after its transaction committed (the log names the new key,
/// the files still hold the old one and `log.key.next-<id>`) is finished by running the
/// command again, without a second rotation; a leftover key file of a rotation that never
/// committed changes nothing.
#[test]
fn an_interrupted_rotation_is_finished_by_running_it_again() {
    use pramaan_server::log_keys;
    use pramaan_server::server::{Paths, admin_init};

    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    admin_init(&data, "localhost").expect("init");
    let paths = Paths::new(&data);
    let old_key = std::fs::read(paths.log_key()).expect("key");
    let old_vkey = std::fs::read(paths.log_vkey()).expect("vkey");
    let first = log_keys::rotate(&data).expect("rotate");
    assert!(!first.resumed);
    let next = paths.log_key_next(
        &pramaan_server::audit_log::VerifierKey::parse(&first.new)
            .expect("vkey")
            .id,
    );
    // Back to the files as they were when the transaction committed.
    std::fs::rename(paths.log_key(), &next).expect("next");
    std::fs::write(paths.log_key(), &old_key).expect("old key");
    std::fs::write(paths.log_vkey(), &old_vkey).expect("old vkey");
    let again = log_keys::rotate(&data).expect("finish, the chain already written");
    assert!(again.resumed);
    assert_eq!(again.chain.keys.len(), 2);
    std::fs::rename(paths.log_key(), &next).expect("next");
    std::fs::write(paths.log_key(), &old_key).expect("old key");
    std::fs::write(paths.log_vkey(), &old_vkey).expect("old vkey");
    std::fs::remove_file(paths.log_keys()).expect("no chain");
    let again = log_keys::rotate(&data).expect("finish");
    assert!(again.resumed);
    assert_eq!((again.index, &again.new), (first.index, &first.new));
    assert_eq!(again.handover, first.handover);
    assert_eq!(
        std::fs::read_to_string(paths.log_vkey())
            .expect("vkey")
            .trim(),
        first.new
    );
    assert_eq!(again.chain.rotations.len(), 1);
    assert!(!next.exists());

    // A leftover from a rotation that never committed is left alone.
    let junk = paths.log_key_next(&[0; 4]);
    std::fs::write(&junk, b"not a key").expect("junk");
    let third = log_keys::rotate(&data).expect("rotate");
    assert!(!third.resumed);
    assert_eq!(third.chain.keys.len(), 3);
    assert_eq!(std::fs::read(&junk).expect("junk"), b"not a key");
}
