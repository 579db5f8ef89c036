//! The store conformance suite: what every [`Store`] backend must do, written once against
//! the trait (after matrix-rust-sdk's state-store integration tests).
//!
//! Why a suite of functions over a factory: the contract in `pramaan_server::store` (one
//! conditional write per check-then-act, uniqueness as constraints, read snapshots that
//! never wait for writers, no clamped integers) is easy to state and easy to get subtly
//! wrong in a second backend. Each check here takes a [`Factory`] that opens the backend's
//! store in a fresh directory; calling it twice on the same directory must give two handles
//! to the same database (the concurrency checks use that to race two connections). A
//! backend's test file runs everything with one line:
//!
//! ```ignore
//! fn open(dir: &std::path::Path) -> std::sync::Arc<dyn pramaan_server::store::Store> {
//!     std::sync::Arc::new(SqliteStore::open(&dir.join("store.db")).expect("open"))
//! }
//! pramaan_testkit::store_conformance_tests!(open);
//! ```
//!
//! which makes one `#[test]` per check (so a failure names the rule broken); [`run_all`]
//! runs them in one go.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{Assurance, Failure, Platform, Verdict};
use pramaan_core::evidence::{EvidenceKind, EvidenceSummary};
use pramaan_core::policy::{Officer, Policy, Rule};
use pramaan_server::store::{
    AttestationRow, CheckpointRow, Counts, DeviceRow, Freshness, LogEntry, Role, StatusListRow,
    Store, StoreError, TokenRow, Tx, read_transaction, transaction,
};
use uuid::Uuid;

/// Opens the backend's store for the database of `dir` (creating it when new).
pub type Factory<'a> = &'a dyn Fn(&Path) -> Arc<dyn Store>;

/// One check of the suite.
pub type Check = fn(Factory<'_>);

/// How many times each race is run.
pub const RACE_ROUNDS: usize = 50;

/// A moment well inside every expiry used here.
const NOW: u64 = 1_000_000;
const LATER: u64 = NOW + 3600;
/// The first `u64` a signed 64-bit column cannot hold.
const BEYOND_I64: u64 = 1 << 63;

/// Runs every check.
pub fn run_all(factory: Factory<'_>) {
    for (name, check) in ALL {
        eprintln!("store conformance: {name}");
        check(factory);
    }
}

/// One `#[test]` per check of the suite against the store made by `$factory` (a
/// `fn(&Path) -> Arc<dyn Store>` or a closure of that type).
///
/// The list of checks is written once, here: [`ALL`] is made from it too, so a backend's
/// tests cannot miss a check.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@checks @each $factory);
    };
    (@checks $($then:tt)*) => {
        $crate::store_conformance_tests!($($then)*;
            tokens,
            token_lifecycle,
            nonces,
            enrollment_tokens,
            enrollment_token_lifecycle,
            officers,
            departments_have_a_policy_or_officers,
            officers_retire_and_move,
            policy_round_trip,
            rosters,
            devices,
            seq_advance_is_conditional,
            attestations,
            attestation_windows_for_device_limits,
            log_append_and_read_see_only_committed_entries,
            read_transactions_cannot_write,
            rollback_leaves_nothing,
            counts,
            values_beyond_i64_are_refused,
            concurrent_nonce_is_consumed_once,
            concurrent_enroll_token_is_used_once,
            concurrent_seq_advance_succeeds_once,
            device_keys_are_enrolled_once,
            offline_slots_are_conditional,
            assert_counter_advances_only,
            status_list_round_trip,
            checkpoints_are_all_kept,
            department_rules_follow_every_change,
            recent_attestations_are_bounded,
            department_devices_in_bulk,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::store_conformance::$name(&$factory);
            }
        )*
    };
    (@all; $($name:ident),* $(,)?) => {
        /// Every check, by name.
        pub const ALL: &[(&str, Check)] = &[$((stringify!($name), $name)),*];
    };
}

store_conformance_tests!(@checks @all);

fn open(factory: Factory<'_>) -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = factory(dir.path());
    (dir, store)
}

fn write<R>(store: &dyn Store, f: impl FnOnce(&mut dyn Tx) -> Result<R, StoreError>) -> R {
    transaction(store, f).expect("transaction")
}

fn read<R>(store: &dyn Store, f: impl FnOnce(&mut dyn Tx) -> Result<R, StoreError>) -> R {
    read_transaction(store, f).expect("read transaction")
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

fn out_of_range<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::ValueOutOfRange { .. }))
}

fn officer(id: &str, department: &str) -> Officer {
    Officer {
        officer_id: id.into(),
        name: format!("Officer {id}"),
        designation: "Deputy Secretary".into(),
        department: department.into(),
        email: format!("{}@gujarat.gov.in", id.to_lowercase()),
        mobile: "+919800000001".into(),
        entitled: true,
        gr_reference: Some("GR-2026-1".into()),
        phone_model: None,
        phone_purchased: None,
        retired_at: None,
    }
}

/// A new P-256 device key as an encoded COSE_Key.
fn fresh_key() -> Vec<u8> {
    use pramaan_core::keys::Signer as _;
    pramaan_core::keys::SoftwareSigner::generate()
        .and_then(|k| k.public_key())
        .map(|k| k.to_cose_key_bytes())
        .expect("a software key")
}

fn device(officer_id: &str, enrolled_at: u64) -> DeviceRow {
    DeviceRow {
        device_id: Uuid::new_v4(),
        officer_id: officer_id.into(),
        department: "GAD".into(),
        platform: Platform::Ios,
        model: "iPhone 15".into(),
        public_key: fresh_key(),
        assurance: Assurance::Hardware,
        evidence: Some(vec![0xa0]),
        evidence_summary: EvidenceSummary {
            kind: EvidenceKind::AppleAppAttest,
            verified: true,
            checked_at: enrolled_at,
            attested_model: Some("iPhone15,4".into()),
            counter: Some(0),
            ..EvidenceSummary::default()
        },
        freshness: Freshness::default(),
        assert_counter: Some(0),
        reattest_requested: false,
        revoked: false,
        reason: None,
        last_seq: None,
        enrolled_at,
    }
}

fn attestation(device_id: Uuid, seq: u64, log_index: u64) -> AttestationRow {
    AttestationRow {
        device_id,
        seq,
        iat: NOW + seq,
        received_at: NOW + seq + 1,
        fresh_nonce: seq % 2 == 0,
        claims: vec![0xa1, 0x01, seq as u8],
        verdict: Verdict::Warning,
        failures: vec![Failure {
            rule: Rule::R5,
            detail: format!("software key (seq {seq})"),
        }],
        log_index,
    }
}

fn entry(i: u64) -> LogEntry {
    LogEntry::PolicyChange {
        at: i,
        department: "GAD".into(),
        policy_json: format!("{{\"n\":{i}}}"),
        by: "conformance".into(),
    }
}

fn policy() -> Policy {
    Policy::load(crate::POLICY_GAD, &Catalog::builtin()).expect("GAD policy")
}

fn hash(tag: u8, round: usize) -> [u8; 32] {
    let mut h = [tag; 32];
    h[..8].copy_from_slice(&(round as u64).to_le_bytes());
    h
}

/// Bearer tokens: stored by hash, found by hash, role and department kept.
pub fn tokens(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let it = TokenRow::new([1; 32], Role::It, Some("GAD".into()), NOW);
    let auditor = TokenRow::new([2; 32], Role::Auditor, None, NOW);
    write(store.as_ref(), |tx| {
        tx.insert_token(&it)?;
        tx.insert_token(&auditor)
    });
    assert_eq!(
        read(store.as_ref(), |tx| tx.token(&[1; 32])),
        Some(it.clone())
    );
    assert_eq!(read(store.as_ref(), |tx| tx.token(&[2; 32])), Some(auditor));
    assert_eq!(read(store.as_ref(), |tx| tx.token(&[3; 32])), None);
    let dup = transaction(store.as_ref(), |tx| tx.insert_token(&it));
    assert!(is_conflict(&dup), "a token hash is unique: {dup:?}");
}

/// Bearer token lifecycle: name, creator and expiry kept; listed oldest first; found by
/// a hash prefix (the public id); revoked once, and never the last usable admin token,
/// an expired admin token not counting as usable.
pub fn token_lifecycle(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let mut h1 = [1; 32];
    h1[4] = 9;
    let named = TokenRow {
        name: Some("it-GAD-1".into()),
        created_by: Some("admin:00000000".into()),
        expires_at: Some(LATER),
        ..TokenRow::new(h1, Role::It, Some("GAD".into()), NOW + 1)
    };
    let admin_a = TokenRow::new([2; 32], Role::Admin, None, NOW);
    let admin_expired = TokenRow {
        expires_at: Some(NOW),
        ..TokenRow::new([3; 32], Role::Admin, None, NOW)
    };
    let admin_b = TokenRow::new([4; 32], Role::Admin, None, NOW + 2);
    write(s, |tx| {
        tx.insert_token(&named)?;
        tx.insert_token(&admin_a)?;
        tx.insert_token(&admin_expired)
    });
    assert_eq!(read(s, |tx| tx.token(&h1)), Some(named.clone()));
    let listed = read(s, |tx| tx.tokens());
    assert_eq!(
        listed.iter().map(|t| t.hash[0]).collect::<Vec<_>>(),
        vec![2, 3, 1],
        "oldest first"
    );
    let by_prefix = read(s, |tx| tx.tokens_by_prefix(&[1, 1, 1, 1], 5));
    assert_eq!(by_prefix, vec![named.clone()]);
    assert_eq!(read(s, |tx| tx.tokens_by_prefix(&[1, 1, 1, 2], 5)), vec![]);
    assert_eq!(read(s, |tx| tx.tokens_by_prefix(&[0xff; 4], 5)), vec![]);
    // Revoked once; the row says when and by whom.
    assert!(write(s, |tx| tx.revoke_token(&h1, "admin:x", NOW + 5)));
    assert!(!write(s, |tx| tx.revoke_token(&h1, "admin:y", NOW + 6)));
    let row = read(s, |tx| tx.token(&h1)).expect("row");
    assert_eq!(
        (row.revoked_at, row.revoked_by.as_deref()),
        (Some(NOW + 5), Some("admin:x"))
    );
    assert!(
        !write(s, |tx| tx.revoke_token(&[9; 32], "admin:x", NOW)),
        "unknown"
    );
    // The only usable admin token (the other one expired) stays.
    assert!(!write(s, |tx| tx.revoke_token(
        &[2; 32],
        "admin:x",
        NOW + 5
    )));
    assert_eq!(
        read(s, |tx| tx.token(&[2; 32])).expect("row").revoked_at,
        None
    );
    // With a second usable admin token, one of them can go, then not the other.
    write(s, |tx| tx.insert_token(&admin_b));
    assert!(write(s, |tx| tx.revoke_token(&[2; 32], "admin:x", NOW + 5)));
    assert!(!write(s, |tx| tx.revoke_token(
        &[4; 32],
        "admin:x",
        NOW + 5
    )));
}

/// Nonce uses: recorded once (the second use is refused, an insert that does nothing on
/// a duplicate); a use in a rolled-back transaction is undone; pruning by expiry.
pub fn nonces(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    assert_eq!(read(s, |tx| tx.nonce(&[1; 32])), None);
    assert!(write(s, |tx| tx.use_nonce(&[1; 32], LATER)));
    assert!(!write(s, |tx| tx.use_nonce(&[1; 32], LATER)));
    // The second use changed nothing (not even the expiry it named).
    assert!(!write(s, |tx| tx.use_nonce(&[1; 32], NOW)));
    let row = read(s, |tx| tx.nonce(&[1; 32])).expect("row");
    assert_eq!((row.expires, row.used), (LATER, true));
    assert_eq!(read(s, |tx| tx.nonce(&[9; 32])), None);
    // A use in a rolled-back transaction is undone: the nonce can still be used.
    let r: Result<(), StoreError> = transaction(s, |tx| {
        assert!(tx.use_nonce(&[2; 32], NOW)?);
        Err(StoreError::Corrupt("refused".into()))
    });
    assert!(r.is_err());
    assert_eq!(read(s, |tx| tx.nonce(&[2; 32])), None);
    write(s, |tx| {
        assert!(tx.use_nonce(&[2; 32], NOW)?);
        tx.use_nonce(&[3; 32], NOW - 10)
    });
    // Pruning deletes what expired strictly before the bound.
    write(s, |tx| tx.prune_nonces(NOW));
    assert_eq!(read(s, |tx| tx.nonce(&[3; 32])), None);
    assert!(read(s, |tx| tx.nonce(&[2; 32])).is_some());
    assert!(read(s, |tx| tx.nonce(&[1; 32])).is_some());
    assert_eq!(read(s, |tx| tx.counts()).nonces_used, 2);
}

/// Enrollment tokens: used once; expired ones cannot be used.
pub fn enrollment_tokens(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    write(s, |tx| {
        tx.insert_enroll_token(&[1; 32], "GAD-001", LATER, false, "it@GAD", NOW)?;
        tx.insert_enroll_token(&[2; 32], "GAD-002", NOW, false, "it@GAD", NOW - 60)
    });
    let row = read(s, |tx| tx.enroll_token(&[1; 32])).expect("row");
    assert_eq!(
        (row.officer_id.as_str(), row.expires, row.used),
        ("GAD-001", LATER, false)
    );
    assert!(write(s, |tx| tx.use_enroll_token(&[1; 32], NOW)));
    assert!(!write(s, |tx| tx.use_enroll_token(&[1; 32], NOW)));
    assert!(read(s, |tx| tx.enroll_token(&[1; 32])).expect("row").used);
    assert!(
        !write(s, |tx| tx.use_enroll_token(&[2; 32], NOW)),
        "expired"
    );
    assert!(!read(s, |tx| tx.enroll_token(&[2; 32])).expect("row").used);
    assert!(
        !write(s, |tx| tx.use_enroll_token(&[3; 32], NOW)),
        "unknown"
    );
    assert_eq!(read(s, |tx| tx.enroll_token(&[3; 32])), None);
    let dup = transaction(s, |tx| {
        tx.insert_enroll_token(&[1; 32], "GAD-001", LATER, false, "it@GAD", NOW)
    });
    assert!(is_conflict(&dup), "an enrollment token is unique: {dup:?}");
    write(s, |tx| {
        tx.insert_enroll_token(&[4; 32], "GAD-001", LATER, true, "it@GAD", NOW)
    });
    assert!(
        read(s, |tx| tx.enroll_token(&[4; 32]))
            .expect("row")
            .allow_additional
    );
    assert!(
        !read(s, |tx| tx.enroll_token(&[1; 32]))
            .expect("row")
            .allow_additional
    );
}

/// Enrollment token lifecycle: listed by department (outstanding by default, every one
/// with `all`), found by a hash prefix, cancelled once and only while outstanding; a
/// cancelled token cannot be used; departments are those of policies and officers.
pub fn enrollment_token_lifecycle(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    write(s, |tx| {
        tx.upsert_officer(&officer("GAD-001", "GAD"), NOW)?;
        tx.upsert_officer(&officer("REV-001", "REV"), NOW)?;
        tx.set_policy("GAD", &policy(), "admin", NOW)?;
        tx.insert_enroll_token(&[1; 32], "GAD-001", LATER, false, "it:a", NOW)?;
        tx.insert_enroll_token(&[2; 32], "GAD-001", LATER, true, "it:a", NOW + 1)?;
        tx.insert_enroll_token(&[3; 32], "GAD-001", NOW, false, "it:a", NOW - 60)?;
        tx.insert_enroll_token(&[4; 32], "REV-001", LATER, false, "it:b", NOW + 2)?;
        tx.use_enroll_token(&[2; 32], NOW)
    });
    assert_eq!(
        read(s, |tx| tx.departments()),
        vec!["GAD".to_string(), "REV".to_string()]
    );
    let ids = |all: bool, d: Option<&str>| {
        read(s, |tx| tx.enroll_tokens_of(d, all, NOW, 100))
            .iter()
            .map(|t| (t.row.hash[0], t.department.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(false, Some("GAD")), vec![(1, "GAD".to_string())]);
    assert_eq!(
        ids(true, Some("GAD")),
        vec![
            (2, "GAD".to_string()),
            (1, "GAD".to_string()),
            (3, "GAD".to_string())
        ],
        "newest first"
    );
    assert_eq!(ids(false, None).len(), 2);
    assert_eq!(
        read(s, |tx| tx.enroll_tokens_of(None, true, NOW, 1)).len(),
        1
    );
    let found = read(s, |tx| tx.enroll_tokens_by_prefix(&[4, 4, 4, 4], 2));
    assert_eq!(found.len(), 1);
    assert_eq!(
        (
            found[0].row.officer_id.as_str(),
            found[0].department.as_str()
        ),
        ("REV-001", "REV")
    );
    assert_eq!(found[0].row.created_by, "it:b");
    // Cancelled once, only while outstanding.
    assert!(
        !write(s, |tx| tx.cancel_enroll_token(&[2; 32], "it:a", NOW)),
        "used"
    );
    assert!(
        !write(s, |tx| tx.cancel_enroll_token(&[3; 32], "it:a", NOW)),
        "expired"
    );
    assert!(write(s, |tx| tx.cancel_enroll_token(
        &[1; 32],
        "it:a",
        NOW + 3
    )));
    assert!(!write(s, |tx| tx.cancel_enroll_token(
        &[1; 32],
        "it:a",
        NOW + 4
    )));
    let row = read(s, |tx| tx.enroll_token(&[1; 32])).expect("row");
    assert_eq!(
        (row.cancelled_at, row.cancelled_by.as_deref(), row.used),
        (Some(NOW + 3), Some("it:a"), false)
    );
    assert!(
        !write(s, |tx| tx.use_enroll_token(&[1; 32], NOW + 5)),
        "cancelled"
    );
    assert_eq!(ids(false, Some("GAD")), vec![]);
}

/// A device key is enrolled once: found by its hash, revoked or not; a second device
/// with the same key (in any COSE encoding) is a conflict.
pub fn device_keys_are_enrolled_once(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let first = device("GAD-001", NOW);
    write(s, |tx| tx.insert_device(&first));
    let hash = pramaan_server::store::key_hash(&first.public_key).expect("hash");
    assert_eq!(read(s, |tx| tx.device_by_key(&hash)), Some(first.clone()));
    assert_eq!(read(s, |tx| tx.device_by_key(&[0; 32])), None);
    write(s, |tx| tx.revoke_device(&first.device_id, "lost"));
    let found = read(s, |tx| tx.device_by_key(&hash)).expect("still found");
    assert!(found.revoked);
    let again = DeviceRow {
        device_id: Uuid::new_v4(),
        officer_id: "GAD-002".into(),
        ..first.clone()
    };
    let dup = transaction(s, |tx| tx.insert_device(&again));
    assert!(is_conflict(&dup), "a key is enrolled once: {dup:?}");
    assert_eq!(read(s, |tx| tx.counts()).devices, 1);
}

/// Offline slots: counted against the current anchor only, up to the limit; a fresh
/// challenge resets the run and moves the anchor.
pub fn offline_slots_are_conditional(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let d = device("GAD-001", NOW);
    let id = d.device_id;
    write(s, |tx| tx.insert_device(&d));
    assert!(
        !write(s, |tx| tx.take_offline_slot(&id, &[1; 32], 3)),
        "no anchor yet"
    );
    write(s, |tx| tx.record_fresh(&id, NOW + 10, &[1; 32]));
    let f = read(s, |tx| tx.device(&id)).expect("row").freshness;
    assert_eq!(
        (f.last_fresh_at, f.anchor, f.offline_run),
        (Some(NOW + 10), Some(([1; 32], NOW + 10)), 0)
    );
    assert!(
        !write(s, |tx| tx.take_offline_slot(&id, &[2; 32], 3)),
        "other anchor"
    );
    for _ in 0..2 {
        assert!(write(s, |tx| tx.take_offline_slot(&id, &[1; 32], 2)));
    }
    assert!(
        !write(s, |tx| tx.take_offline_slot(&id, &[1; 32], 2)),
        "run at the limit"
    );
    assert_eq!(
        read(s, |tx| tx.device(&id))
            .expect("row")
            .freshness
            .offline_run,
        2
    );
    write(s, |tx| tx.record_fresh(&id, NOW + 20, &[3; 32]));
    let f = read(s, |tx| tx.device(&id)).expect("row").freshness;
    assert_eq!((f.anchor, f.offline_run), (Some(([3; 32], NOW + 20)), 0));
    assert!(
        !write(s, |tx| tx.take_offline_slot(&id, &[1; 32], 2)),
        "old anchor"
    );
}

/// The App Attest counter only moves up; re-attestation replaces the evidence.
pub fn assert_counter_advances_only(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let d = device("GAD-001", NOW);
    let id = d.device_id;
    write(s, |tx| tx.insert_device(&d));
    assert!(write(s, |tx| tx.advance_assert_counter(&id, 1)));
    assert!(
        !write(s, |tx| tx.advance_assert_counter(&id, 1)),
        "replayed"
    );
    assert!(!write(s, |tx| tx.advance_assert_counter(&id, 0)), "lower");
    assert!(write(s, |tx| tx.advance_assert_counter(&id, 7)));
    assert_eq!(
        read(s, |tx| tx.device(&id)).expect("row").assert_counter,
        Some(7)
    );
    let renewed = EvidenceSummary {
        checked_at: LATER,
        counter: Some(7),
        ..d.evidence_summary.clone()
    };
    write(s, |tx| {
        tx.update_evidence(&id, &renewed, Assurance::Software)
    });
    let row = read(s, |tx| tx.device(&id)).expect("row");
    assert_eq!(
        (row.evidence_summary, row.assurance),
        (renewed, Assurance::Software)
    );
}

/// The status list is stored whole and replaced.
pub fn status_list_round_trip(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    assert_eq!(read(s, |tx| tx.status_list()), None);
    let row = StatusListRow {
        json: r#"{"entries":{}}"#.into(),
        fetched_at: NOW,
        imported_at: NOW + 1,
    };
    write(s, |tx| tx.set_status_list(&row));
    assert_eq!(read(s, |tx| tx.status_list()), Some(row.clone()));
    let newer = StatusListRow {
        json: r#"{"entries":{"01":{"status":"REVOKED"}}}"#.into(),
        fetched_at: LATER,
        imported_at: LATER,
    };
    write(s, |tx| tx.set_status_list(&newer));
    assert_eq!(read(s, |tx| tx.status_list()), Some(newer));
}

/// Every signed checkpoint is kept (none replaced, a rolled-back one not at all); the
/// latest is the largest size, the later one among equal sizes; listing is in signing
/// order from a size on, bounded; sizes beyond `i64` are refused.
pub fn checkpoints_are_all_kept(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    assert_eq!(read(s, |tx| tx.latest_checkpoint()), None);
    assert!(read(s, |tx| tx.checkpoints(0, 10)).is_empty());
    let cp = |size: u64, tag: u8| CheckpointRow {
        size,
        root: [tag; 32],
        note: format!("log\n{size}\nroot {tag}\n\n\u{2014} log sig{tag}\n"),
        signed_at: NOW + u64::from(tag),
    };
    let rows = [cp(0, 1), cp(3, 2), cp(3, 3), cp(7, 4)];
    for r in &rows {
        write(s, |tx| tx.insert_checkpoint(r));
        assert_eq!(read(s, |tx| tx.latest_checkpoint()), Some(r.clone()));
    }
    assert_eq!(read(s, |tx| tx.checkpoints(0, 10)), rows.to_vec());
    assert_eq!(read(s, |tx| tx.checkpoints(3, 2)), rows[1..3].to_vec());
    assert_eq!(read(s, |tx| tx.checkpoints(8, 10)), Vec::new());
    // A rolled-back insert leaves nothing.
    let r: Result<(), StoreError> = transaction(s, |tx| {
        tx.insert_checkpoint(&cp(9, 5))?;
        Err(StoreError::Conflict("rolled back on purpose".into()))
    });
    assert!(r.is_err());
    assert_eq!(read(s, |tx| tx.latest_checkpoint()), Some(rows[3].clone()));
    // A read transaction cannot write one.
    assert!(read_transaction(s, |tx| tx.insert_checkpoint(&cp(9, 6))).is_err());
    assert!(out_of_range(&transaction(s, |tx| {
        tx.insert_checkpoint(&cp(BEYOND_I64, 7))
    })));
    assert_eq!(read(s, |tx| tx.checkpoints(0, 10)).len(), rows.len());
}

/// The registry: officers by id and by department, upserts.
pub fn officers(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let a = officer("GAD-002", "GAD");
    let b = officer("GAD-001", "GAD");
    let c = officer("REV-001", "REV");
    write(s, |tx| {
        for o in [&a, &b, &c] {
            tx.upsert_officer(o, NOW)?;
        }
        Ok(())
    });
    assert_eq!(read(s, |tx| tx.officer("GAD-002")), Some(a.clone()));
    assert_eq!(read(s, |tx| tx.officer("NOBODY")), None);
    assert_eq!(
        read(s, |tx| tx.officers_of("GAD")),
        vec![b.clone(), a.clone()],
        "by officer id"
    );
    // An upsert replaces the row, department included.
    let moved = Officer {
        designation: "Joint Secretary".into(),
        ..officer("GAD-002", "REV")
    };
    write(s, |tx| tx.upsert_officer(&moved, LATER));
    assert_eq!(read(s, |tx| tx.officer("GAD-002")), Some(moved.clone()));
    assert_eq!(read(s, |tx| tx.officers_of("GAD")), vec![b]);
    assert_eq!(read(s, |tx| tx.officers_of("REV")), vec![moved, c]);
}

/// The departments listed are those with a policy or an officer, each once, sorted.
pub fn departments_have_a_policy_or_officers(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    assert_eq!(read(s, |tx| tx.departments()), Vec::<String>::new());
    write(s, |tx| {
        tx.upsert_officer(&officer("REV-001", "REV"), NOW)?;
        tx.upsert_officer(&officer("REV-002", "REV"), NOW)?;
        tx.set_policy("GAD", &policy(), "admin", NOW)?;
        tx.upsert_officer(&officer("GAD-001", "GAD"), NOW)
    });
    assert_eq!(read(s, |tx| tx.departments()), vec!["GAD", "REV"]);
    // Policy only, officers only: both count.
    write(s, |tx| tx.set_policy("AGR", &policy(), "admin", NOW));
    assert_eq!(read(s, |tx| tx.departments()), vec!["AGR", "GAD", "REV"]);
}

/// Retiring keeps the row (with `retired_at`) but leaves `officers_of`, revokes the
/// active devices with the reason and cancels outstanding enrollment tokens (once);
/// an upsert reinstates. Moving changes the department of the row and of every device
/// of the officer and cancels tokens. Unknown officers change nothing.
pub fn officers_retire_and_move(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let a = officer("GAD-001", "GAD");
    let b = officer("GAD-002", "GAD");
    let old = device("GAD-001", NOW - 10);
    let active = device("GAD-001", NOW);
    let other = device("GAD-002", NOW);
    write(s, |tx| {
        tx.upsert_officer(&a, NOW)?;
        tx.upsert_officer(&b, NOW)?;
        for d in [&old, &active, &other] {
            tx.insert_device(d)?;
        }
        tx.revoke_device(&old.device_id, "lost")?;
        tx.insert_enroll_token(&[1; 32], "GAD-001", LATER, false, "it@GAD", NOW)?;
        tx.insert_enroll_token(&[2; 32], "GAD-001", LATER, false, "it@GAD", NOW)?;
        tx.insert_enroll_token(&[3; 32], "GAD-002", LATER, false, "it@GAD", NOW)?;
        tx.use_enroll_token(&[2; 32], NOW).map(|_| ())
    });
    let change = write(s, |tx| {
        tx.retire_officer("GAD-001", "retired", "it@GAD", LATER)
    })
    .expect("known officer");
    assert_eq!(
        change.devices,
        vec![active.device_id],
        "the active devices only"
    );
    assert_eq!(change.tokens_cancelled, 1, "the unused token only");
    let row = read(s, |tx| tx.officer("GAD-001")).expect("the row stays");
    assert_eq!(row.retired_at, Some(LATER));
    assert_eq!(read(s, |tx| tx.officers_of("GAD")), vec![b.clone()]);
    let d = read(s, |tx| tx.device(&active.device_id)).expect("device");
    assert!(d.revoked);
    assert_eq!(d.reason.as_deref(), Some("retired"));
    let d = read(s, |tx| tx.device(&old.device_id)).expect("device");
    assert_eq!(
        d.reason.as_deref(),
        Some("lost"),
        "an older revocation is kept"
    );
    assert!(
        !read(s, |tx| tx.device(&other.device_id))
            .expect("device")
            .revoked
    );
    assert_eq!(
        write(s, |tx| tx.retire_officer("NOBODY", "x", "it@GAD", LATER)),
        None
    );
    // An upsert of the row reinstates.
    write(s, |tx| tx.upsert_officer(&a, LATER + 1));
    assert_eq!(read(s, |tx| tx.officer("GAD-001")), Some(a.clone()));
    assert_eq!(
        read(s, |tx| tx.officers_of("GAD")),
        vec![a.clone(), b.clone()]
    );
    // A move: the row and every device of the officer, revoked ones included.
    let change = write(s, |tx| {
        tx.move_officer("GAD-001", "REV", "admin", LATER + 2)
    })
    .expect("known officer");
    let mut ids = vec![old.device_id, active.device_id];
    ids.sort_by_key(|id| if *id == old.device_id { 0 } else { 1 });
    assert_eq!(change.devices, ids, "in enrollment order");
    assert_eq!(change.tokens_cancelled, 0, "cancelled already");
    assert_eq!(
        read(s, |tx| tx.officer("GAD-001")).map(|o| o.department),
        Some("REV".into())
    );
    assert_eq!(read(s, |tx| tx.officers_of("GAD")), vec![b]);
    assert_eq!(read(s, |tx| tx.officers_of("REV")).len(), 1);
    for id in [old.device_id, active.device_id] {
        assert_eq!(
            read(s, |tx| tx.device(&id)).expect("device").department,
            "REV"
        );
    }
    assert_eq!(
        read(s, |tx| tx.device(&other.device_id))
            .expect("device")
            .department,
        "GAD"
    );
    assert_eq!(
        write(s, |tx| tx.move_officer("NOBODY", "REV", "admin", LATER)),
        None
    );
    let change =
        write(s, |tx| tx.move_officer("GAD-002", "REV", "admin", LATER)).expect("known officer");
    assert_eq!(change.tokens_cancelled, 1);
}

/// A department's policy comes back as the typed value it was stored as.
pub fn policy_round_trip(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    assert_eq!(read(s, |tx| tx.policy("GAD")), None);
    let p = policy();
    write(s, |tx| tx.set_policy("GAD", &p, "admin", NOW));
    assert_eq!(read(s, |tx| tx.policy("GAD")), Some(p.clone()));
    assert_eq!(read(s, |tx| tx.policy("REV")), None);
    let changed = Policy {
        check_in_hours: p.check_in_hours + 24,
        ..p
    };
    write(s, |tx| tx.set_policy("GAD", &changed, "admin", LATER));
    assert_eq!(read(s, |tx| tx.policy("GAD")), Some(changed));
}

/// Rosters: set, replaced, read back per department.
pub fn rosters(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let handles = |v: &[&str]| v.iter().map(|h| h.to_string()).collect::<Vec<_>>();
    write(s, |tx| {
        tx.set_roster("GAD", "WhatsApp", "b-group", &handles(&["+2", "+1", "+1"]))?;
        tx.set_roster("GAD", "WhatsApp", "a-group", &handles(&["+3"]))?;
        tx.set_roster("REV", "WhatsApp", "a-group", &handles(&["+9"]))
    });
    let row = |g: &str, h: &str| ("WhatsApp".to_string(), g.to_string(), h.to_string());
    assert_eq!(
        read(s, |tx| tx.roster_rows("GAD")),
        vec![
            row("a-group", "+3"),
            row("b-group", "+1"),
            row("b-group", "+2")
        ],
        "sorted, duplicates once"
    );
    // Setting a group replaces that group only.
    write(s, |tx| {
        tx.set_roster("GAD", "WhatsApp", "b-group", &handles(&["+4"]))
    });
    assert_eq!(
        read(s, |tx| tx.roster_rows("GAD")),
        vec![row("a-group", "+3"), row("b-group", "+4")]
    );
    assert_eq!(
        read(s, |tx| tx.roster_rows("REV")),
        vec![row("a-group", "+9")]
    );
    assert!(read(s, |tx| tx.roster_rows("HOME")).is_empty());
}

/// A department's generation grows with every policy and roster change (committed ones
/// only), and its parsed rules ([`Tx::department_rules`], cached or not) are always the
/// committed ones, also through a second handle to the same database (another server).
pub fn department_rules_follow_every_change(factory: Factory<'_>) {
    let (dir, store) = open(factory);
    let other = factory(dir.path());
    let s = store.as_ref();
    let generation = |st: &dyn Store| read(st, |tx| tx.department_generation("GAD"));
    let seen = |st: &dyn Store| {
        read(st, |tx| {
            Ok(tx.department_rules("GAD")?.map(|r| {
                (
                    r.generation,
                    r.policy.check_in_hours,
                    r.rosters
                        .iter()
                        .flat_map(|r| r.handles.iter().cloned())
                        .collect::<Vec<_>>(),
                )
            }))
        })
    };
    assert_eq!(generation(s), 0);
    assert_eq!(seen(s), None, "no policy, no rules");
    let p = policy();
    write(s, |tx| tx.set_policy("GAD", &p, "admin", NOW));
    let g1 = generation(s);
    assert!(g1 > 0);
    assert_eq!(seen(s), Some((g1, p.check_in_hours, vec![])));
    write(other.as_ref(), |tx| {
        tx.set_roster("GAD", "WhatsApp", "g", &["+1".to_string()])
    });
    let g2 = generation(s);
    assert!(g2 > g1);
    assert_eq!(
        seen(s),
        Some((g2, p.check_in_hours, vec!["+1".to_string()]))
    );
    // Another department's change does not move this one's.
    write(s, |tx| {
        tx.set_roster("REV", "WhatsApp", "g", &["+9".to_string()])
    });
    assert_eq!(generation(s), g2);
    // A rolled-back change leaves the generation and the rules as they were.
    let changed = Policy {
        check_in_hours: p.check_in_hours + 24,
        ..p.clone()
    };
    let r = transaction(s, |tx| -> Result<(), StoreError> {
        tx.set_policy("GAD", &changed, "admin", LATER)?;
        Err(StoreError::Conflict("rolled back".into()))
    });
    assert!(r.is_err());
    assert_eq!(
        seen(s),
        Some((g2, p.check_in_hours, vec!["+1".to_string()]))
    );
    write(other.as_ref(), |tx| {
        tx.set_policy("GAD", &changed, "admin", LATER)
    });
    let g3 = generation(s);
    assert!(g3 > g2);
    assert_eq!(
        write(s, |tx| tx.department_rules("GAD")).map(|r| (r.generation, r.policy.check_in_hours)),
        Some((g3, changed.check_in_hours)),
        "a write transaction sees it too"
    );
}

/// Devices: insert, find by id and officer, revoke.
pub fn devices(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let first = device("GAD-001", NOW);
    let second = DeviceRow {
        platform: Platform::Android,
        assurance: Assurance::Software,
        evidence: None,
        evidence_summary: EvidenceSummary::none(NOW + 5),
        assert_counter: None,
        reattest_requested: false,
        ..device("GAD-001", NOW + 5)
    };
    let other = DeviceRow {
        platform: Platform::Desktop,
        ..device("GAD-002", NOW + 1)
    };
    write(s, |tx| {
        tx.insert_device(&second)?;
        tx.insert_device(&first)?;
        tx.insert_device(&other)
    });
    assert_eq!(
        read(s, |tx| tx.device(&first.device_id)),
        Some(first.clone())
    );
    assert_eq!(read(s, |tx| tx.device(&Uuid::new_v4())), None);
    assert_eq!(
        read(s, |tx| tx.devices_of_officer("GAD-001")),
        vec![first.clone(), second.clone()],
        "by enrollment time"
    );
    write(s, |tx| tx.revoke_device(&first.device_id, "lost"));
    let revoked = read(s, |tx| tx.device(&first.device_id)).expect("row");
    assert!(revoked.revoked);
    assert_eq!(revoked.reason.as_deref(), Some("lost"));
    let dup = transaction(s, |tx| tx.insert_device(&first));
    assert!(is_conflict(&dup), "a device id is unique: {dup:?}");
}

/// `advance_seq` moves only forwards.
pub fn seq_advance_is_conditional(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let d = device("GAD-001", NOW);
    let id = d.device_id;
    write(s, |tx| tx.insert_device(&d));
    assert!(write(s, |tx| tx.advance_seq(&id, 5)), "from none");
    assert!(!write(s, |tx| tx.advance_seq(&id, 5)), "equal");
    assert!(!write(s, |tx| tx.advance_seq(&id, 4)), "lower");
    assert_eq!(read(s, |tx| tx.device(&id)).expect("row").last_seq, Some(5));
    assert!(write(s, |tx| tx.advance_seq(&id, 6)));
    assert_eq!(read(s, |tx| tx.device(&id)).expect("row").last_seq, Some(6));
    assert!(
        !write(s, |tx| tx.advance_seq(&Uuid::new_v4(), 1)),
        "unknown"
    );
    // Seq 0 is a valid first seq.
    let z = device("GAD-002", NOW);
    write(s, |tx| tx.insert_device(&z));
    assert!(write(s, |tx| tx.advance_seq(&z.device_id, 0)));
    assert!(!write(s, |tx| tx.advance_seq(&z.device_id, 0)));
}

/// Attestations: one per (device, seq), the latest comes back typed.
pub fn attestations(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let d = device("GAD-001", NOW);
    let id = d.device_id;
    write(s, |tx| tx.insert_device(&d));
    assert_eq!(read(s, |tx| tx.latest_attestation(&id)), None);
    let one = attestation(id, 1, 0);
    let three = AttestationRow {
        verdict: Verdict::Affirming,
        failures: Vec::new(),
        ..attestation(id, 3, 2)
    };
    let two = AttestationRow {
        verdict: Verdict::Contraindicated,
        ..attestation(id, 2, 1)
    };
    write(s, |tx| {
        tx.insert_attestation(&one)?;
        tx.insert_attestation(&three)?;
        tx.insert_attestation(&two)
    });
    assert_eq!(read(s, |tx| tx.latest_attestation(&id)), Some(three));
    // Recording an attestation does not move the device's seq (advance_seq does).
    assert_eq!(read(s, |tx| tx.device(&id)).expect("row").last_seq, None);
    let dup = transaction(s, |tx| tx.insert_attestation(&attestation(id, 2, 9)));
    assert!(is_conflict(&dup), "(device, seq) is unique: {dup:?}");
    assert_eq!(read(s, |tx| tx.counts()).attestations, 3);
}

/// `recent_attestations`: newest first by `seq` (rows inserted out of order), at most the
/// limit, only the device's own.
pub fn recent_attestations_are_bounded(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let d = device("GAD-001", NOW);
    let other = device("GAD-002", NOW);
    let id = d.device_id;
    write(s, |tx| {
        tx.insert_device(&d)?;
        tx.insert_device(&other)?;
        for seq in [3, 1, 12, 7, 2, 5, 4, 11, 6, 9, 8, 10] {
            tx.insert_attestation(&attestation(id, seq, seq))?;
        }
        tx.insert_attestation(&attestation(other.device_id, 99, 99))
    });
    assert_eq!(read(s, |tx| tx.recent_attestations(&id, 0)), Vec::new());
    let ten = read(s, |tx| tx.recent_attestations(&id, 10));
    let seqs: Vec<u64> = ten.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, vec![12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
    assert_eq!(ten[0], attestation(id, 12, 12), "typed as stored");
    assert_eq!(read(s, |tx| tx.recent_attestations(&id, 50)).len(), 12);
    assert_eq!(
        read(s, |tx| tx.recent_attestations(&Uuid::new_v4(), 10)),
        Vec::new()
    );
}

/// `department_devices`: every device of the department's officers (by the officer's
/// current department), each with its highest-`seq` attestation or none, ordered by
/// officer then enrollment; other departments' devices never appear.
pub fn department_devices_in_bulk(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let a_old = device("GAD-001", NOW);
    let a_new = device("GAD-001", NOW + 10);
    let b = device("GAD-002", NOW + 5);
    let never = device("GAD-003", NOW + 1);
    let elsewhere = device("REV-001", NOW);
    write(s, |tx| {
        for (id, dep) in [
            ("GAD-001", "GAD"),
            ("GAD-002", "GAD"),
            ("GAD-003", "GAD"),
            ("REV-001", "REV"),
        ] {
            tx.upsert_officer(&officer(id, dep), NOW)?;
        }
        for d in [&a_new, &never, &b, &a_old, &elsewhere] {
            tx.insert_device(d)?;
        }
        tx.insert_attestation(&attestation(a_old.device_id, 2, 0))?;
        tx.insert_attestation(&attestation(a_old.device_id, 9, 1))?;
        tx.insert_attestation(&attestation(a_old.device_id, 4, 2))?;
        tx.insert_attestation(&attestation(a_new.device_id, 1, 3))?;
        tx.insert_attestation(&attestation(b.device_id, 7, 4))?;
        tx.insert_attestation(&attestation(elsewhere.device_id, 8, 5))?;
        tx.revoke_device(&a_old.device_id, "replaced")
    });
    let got = read(s, |tx| tx.department_devices("GAD"));
    let ids: Vec<Uuid> = got.iter().map(|(d, _)| d.device_id).collect();
    assert_eq!(
        ids,
        vec![
            a_old.device_id,
            a_new.device_id,
            b.device_id,
            never.device_id
        ],
        "by officer, then enrollment time"
    );
    assert!(
        got[0].0.revoked,
        "revoked devices are listed, typed as stored"
    );
    let latest: Vec<Option<u64>> = got.iter().map(|(_, a)| a.as_ref().map(|a| a.seq)).collect();
    assert_eq!(latest, vec![Some(9), Some(1), Some(7), None]);
    assert_eq!(got[2].1, Some(attestation(b.device_id, 7, 4)));
    assert_eq!(read(s, |tx| tx.department_devices("NONE")), Vec::new());
    // An officer moved to another department takes the listing of their devices along.
    write(s, |tx| tx.upsert_officer(&officer("GAD-002", "REV"), LATER));
    let rev: Vec<Uuid> = read(s, |tx| tx.department_devices("REV"))
        .iter()
        .map(|(d, _)| d.device_id)
        .collect();
    assert_eq!(rev, vec![b.device_id, elsewhere.device_id]);
    assert_eq!(read(s, |tx| tx.department_devices("GAD")).len(), 3);
}

/// What the policy's per-device limits read: when the `n`-th latest attestation (by
/// `seq`, rows inserted out of order) was received, and the offline ones received after a
/// time, newest first, bounded; other devices' rows never count, and rows of a rolled-back
/// transaction are gone.
pub fn attestation_windows_for_device_limits(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let (d, other) = (device("GAD-001", NOW), device("GAD-002", NOW));
    let id = d.device_id;
    write(s, |tx| {
        tx.insert_device(&d)?;
        tx.insert_device(&other)
    });
    assert_eq!(read(s, |tx| tx.nth_latest_received_at(&id, 1)), None);
    // `attestation(id, seq, _)` is received at NOW + seq + 1, offline when seq is odd.
    write(s, |tx| {
        for (seq, index) in [(4, 0), (1, 1), (6, 2), (2, 3), (5, 4), (3, 5)] {
            tx.insert_attestation(&attestation(id, seq, index))?;
        }
        tx.insert_attestation(&attestation(other.device_id, 9, 6))?;
        tx.insert_attestation(&attestation(other.device_id, 50, 7))
    });
    // Seqs with gaps count by rows, not by numbers.
    let other_nth = |n| read(s, |tx| tx.nth_latest_received_at(&other.device_id, n));
    assert_eq!(
        (other_nth(1), other_nth(2), other_nth(3)),
        (Some(NOW + 51), Some(NOW + 10), None)
    );
    let nth = |n| read(s, |tx| tx.nth_latest_received_at(&id, n));
    assert_eq!(nth(1), Some(NOW + 7));
    assert_eq!(nth(3), Some(NOW + 5));
    assert_eq!(nth(6), Some(NOW + 2));
    assert_eq!((nth(7), nth(0)), (None, None));
    let unknown = Uuid::new_v4();
    assert_eq!(read(s, |tx| tx.nth_latest_received_at(&unknown, 1)), None);
    let offline = |since, at_most| read(s, |tx| tx.offline_received_since(&id, since, at_most));
    assert_eq!(offline(0, 10), vec![NOW + 6, NOW + 4, NOW + 2]);
    assert_eq!(offline(0, 2), vec![NOW + 6, NOW + 4]);
    // Received after `since` only (seq 3 at NOW + 4 is not after NOW + 4).
    assert_eq!(offline(NOW + 4, 10), vec![NOW + 6]);
    assert_eq!(offline(0, 0), Vec::<u64>::new());
    assert_eq!(
        read(s, |tx| tx.offline_received_since(&unknown, 0, 5)),
        Vec::<u64>::new()
    );
    let rolled = transaction(s, |tx| -> Result<(), StoreError> {
        tx.insert_attestation(&attestation(id, 7, 8))?;
        assert_eq!(tx.nth_latest_received_at(&id, 1)?, Some(NOW + 8));
        Err(StoreError::Conflict("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(nth(1), Some(NOW + 7));
}

/// A read transaction sees only committed log entries, and does not wait for a writer.
pub fn log_append_and_read_see_only_committed_entries(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let indices = write(s, |tx| {
        (0..5)
            .map(|i| tx.append_log(&entry(i)))
            .collect::<Result<Vec<_>, _>>()
    });
    assert_eq!(indices, vec![0, 1, 2, 3, 4]);
    let leaves = read(s, |tx| tx.log().leaves(0, 100));
    let expected: Vec<(u64, Vec<u8>)> = (0..5).map(|i| (i, entry(i).to_leaf())).collect();
    assert_eq!(leaves, expected);
    // A rolled-back append leaves no entry, and the next append reuses the index.
    let r: Result<(), StoreError> = transaction(s, |tx| {
        assert_eq!(tx.append_log(&entry(99))?, 5);
        Err(StoreError::Corrupt("refused".into()))
    });
    assert!(r.is_err());
    assert_eq!(read(s, |tx| tx.log().size()), 5);

    // While a writer holds an uncommitted append, a read transaction neither waits for it
    // nor sees it; once committed, it is seen.
    let (appended_tx, appended) = mpsc::channel::<()>();
    let (read_done_tx, read_done) = mpsc::channel::<()>();
    let writer_store = store.clone();
    let writer = std::thread::spawn(move || {
        transaction(writer_store.as_ref(), |tx| {
            let i = tx.append_log(&entry(5))?;
            let _ = appended_tx.send(());
            // Bounded, so that a backend whose reads wait for writers fails instead of
            // hanging: the reader below would then see the committed entry.
            let _ = read_done.recv_timeout(Duration::from_secs(10));
            Ok::<_, StoreError>(i)
        })
    });
    appended
        .recv_timeout(Duration::from_secs(10))
        .expect("writer appended");
    let during = read(s, |tx| tx.log().size());
    let _ = read_done_tx.send(());
    assert_eq!(
        during, 5,
        "a read transaction saw an uncommitted entry or waited"
    );
    assert_eq!(writer.join().expect("writer").expect("commit"), 5);
    assert_eq!(read(s, |tx| tx.log().size()), 6);
    assert_eq!(read(s, |tx| tx.counts()).log_entries, 6);
    // Every complete subtree is stored: a node read works for the last full pair.
    let node = read(s, |tx| tx.log().node(1, 2));
    assert_eq!(node.len(), 32);
}

/// Writes inside a read transaction fail.
pub fn read_transactions_cannot_write(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let r = read_transaction(s, |tx| tx.use_nonce(&[1; 32], LATER));
    assert!(r.is_err(), "a write in a read transaction: {r:?}");
    assert_eq!(read(s, |tx| tx.nonce(&[1; 32])), None);
    let r = read_transaction(s, |tx| tx.append_log(&entry(0)));
    assert!(r.is_err(), "an append in a read transaction: {r:?}");
    assert_eq!(read(s, |tx| tx.log().size()), 0);
}

/// A rolled-back transaction leaves no row and no log entry.
pub fn rollback_leaves_nothing(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let kept = device("GAD-001", NOW);
    write(s, |tx| {
        tx.insert_device(&kept)?;
        tx.use_nonce(&[7; 32], LATER)?;
        tx.insert_enroll_token(&[8; 32], "GAD-001", LATER, false, "it", NOW)
    });
    let before = read(s, |tx| tx.counts());
    let gone = device("GAD-002", NOW);
    let r: Result<(), StoreError> = transaction(s, |tx| {
        tx.insert_token(&TokenRow::new([1; 32], Role::Admin, None, NOW))?;
        assert!(tx.use_nonce(&[2; 32], LATER)?);
        assert!(!tx.use_nonce(&[7; 32], LATER)?);
        assert!(tx.use_enroll_token(&[8; 32], NOW)?);
        tx.upsert_officer(&officer("GAD-009", "GAD"), NOW)?;
        tx.set_policy("GAD", &policy(), "admin", NOW)?;
        tx.set_roster("GAD", "WhatsApp", "g", &["+1".to_string()])?;
        tx.insert_device(&gone)?;
        assert!(tx.advance_seq(&kept.device_id, 1)?);
        tx.insert_attestation(&attestation(kept.device_id, 1, 0))?;
        tx.revoke_device(&kept.device_id, "test")?;
        tx.append_log(&entry(0))?;
        Err(StoreError::Corrupt("refused".into()))
    });
    assert!(r.is_err());
    assert_eq!(read(s, |tx| tx.counts()), before);
    assert_eq!(read(s, |tx| tx.token(&[1; 32])), None);
    assert_eq!(read(s, |tx| tx.nonce(&[2; 32])), None);
    assert!(read(s, |tx| tx.nonce(&[7; 32])).expect("row").used);
    assert!(!read(s, |tx| tx.enroll_token(&[8; 32])).expect("row").used);
    assert_eq!(read(s, |tx| tx.officer("GAD-009")), None);
    assert_eq!(read(s, |tx| tx.policy("GAD")), None);
    assert!(read(s, |tx| tx.roster_rows("GAD")).is_empty());
    assert_eq!(read(s, |tx| tx.device(&gone.device_id)), None);
    assert_eq!(read(s, |tx| tx.device(&kept.device_id)), Some(kept.clone()));
    assert_eq!(read(s, |tx| tx.latest_attestation(&kept.device_id)), None);
    assert_eq!(read(s, |tx| tx.log().size()), 0);
}

/// Row counts follow the writes.
pub fn counts(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    assert_eq!(read(s, |tx| tx.counts()), Counts::default());
    let d = device("GAD-001", NOW);
    write(s, |tx| {
        tx.upsert_officer(&officer("GAD-001", "GAD"), NOW)?;
        tx.upsert_officer(&officer("GAD-002", "GAD"), NOW)?;
        tx.insert_device(&d)?;
        tx.insert_device(&device("GAD-002", NOW))?;
        tx.insert_attestation(&attestation(d.device_id, 1, 0))?;
        tx.use_nonce(&[0; 32], LATER)?;
        tx.use_nonce(&[1; 32], LATER)?;
        tx.use_nonce(&[1; 32], LATER)?;
        tx.insert_enroll_token(&[9; 32], "GAD-001", LATER, false, "it", NOW)?;
        tx.insert_enroll_token(&[10; 32], "GAD-002", LATER, false, "it", NOW)?;
        tx.use_enroll_token(&[9; 32], NOW)?;
        for i in 0..3 {
            tx.append_log(&entry(i))?;
        }
        Ok(())
    });
    assert_eq!(
        read(s, |tx| tx.counts()),
        Counts {
            officers: 2,
            devices: 2,
            attestations: 1,
            nonces_used: 2,
            enrollment_tokens_used: 1,
            log_entries: 3,
        }
    );
}

/// Integers beyond i64 are refused, never clamped.
pub fn values_beyond_i64_are_refused(factory: Factory<'_>) {
    let (_dir, store) = open(factory);
    let s = store.as_ref();
    let d = device("GAD-001", NOW);
    write(s, |tx| tx.insert_device(&d));
    let before = read(s, |tx| tx.counts());
    let r = transaction(s, |tx| tx.use_nonce(&[1; 32], BEYOND_I64));
    assert!(out_of_range(&r), "nonce expiry: {r:?}");
    let r = transaction(s, |tx| tx.use_nonce(&[1; 32], u64::MAX));
    assert!(out_of_range(&r), "nonce expiry: {r:?}");
    let r = transaction(s, |tx| {
        tx.insert_enroll_token(&[2; 32], "GAD-001", BEYOND_I64, false, "it", NOW)
    });
    assert!(out_of_range(&r), "token expiry: {r:?}");
    let r = transaction(s, |tx| tx.advance_seq(&d.device_id, BEYOND_I64));
    assert!(out_of_range(&r), "seq: {r:?}");
    let r = transaction(s, |tx| {
        tx.insert_attestation(&attestation(d.device_id, BEYOND_I64, 0))
    });
    assert!(out_of_range(&r), "attestation seq: {r:?}");
    let r = transaction(s, |tx| tx.insert_device(&device("GAD-002", BEYOND_I64)));
    assert!(out_of_range(&r), "enrolled_at: {r:?}");
    let r = transaction(s, |tx| {
        tx.insert_device(&DeviceRow {
            last_seq: Some(u64::MAX),
            ..device("GAD-003", NOW)
        })
    });
    assert!(out_of_range(&r), "last_seq: {r:?}");
    // Nothing was written, nothing clamped.
    assert_eq!(read(s, |tx| tx.counts()), before);
    assert_eq!(read(s, |tx| tx.nonce(&[1; 32])), None);
    assert_eq!(
        read(s, |tx| tx.device(&d.device_id)).expect("row").last_seq,
        None
    );
    // The largest storable value is stored exactly.
    let max = i64::MAX as u64;
    assert!(write(s, |tx| tx.advance_seq(&d.device_id, max)));
    assert_eq!(
        read(s, |tx| tx.device(&d.device_id)).expect("row").last_seq,
        Some(max)
    );
}

/// Runs `act` on two threads at once, each in its own transaction (the first thread on
/// `a`, the second on `b`), and returns both results.
fn race<T: Send + 'static>(
    a: &Arc<dyn Store>,
    b: &Arc<dyn Store>,
    act: impl Fn(&mut dyn Tx) -> Result<T, StoreError> + Send + Sync + 'static,
) -> Vec<Result<T, StoreError>> {
    let act = Arc::new(act);
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|store| {
            let act = act.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                transaction(store.as_ref(), |tx| act(tx))
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("racer"))
        .collect()
}

/// Exactly one racer won; the other got `false` or an error, never `true`.
fn assert_one_winner(results: &[Result<bool, StoreError>], what: &str, round: usize) {
    let wins = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(wins, 1, "{what}, round {round}: {results:?}");
}

/// The second racer's store: the same handle (two transactions of one store) in even
/// rounds, a second store opened on the same database in odd ones.
fn other(round: usize, shared: &Arc<dyn Store>, second: &Arc<dyn Store>) -> Arc<dyn Store> {
    if round % 2 == 0 {
        shared.clone()
    } else {
        second.clone()
    }
}

/// Two concurrent users of one nonce: exactly one succeeds.
pub fn concurrent_nonce_is_consumed_once(factory: Factory<'_>) {
    let (dir, store) = open(factory);
    let second = factory(dir.path());
    for round in 0..RACE_ROUNDS {
        let h = hash(1, round);
        let other = other(round, &store, &second);
        // As a handler does: the conditional write (an insert of the use) decides.
        let results = race(&store, &other, move |tx| tx.use_nonce(&h, LATER));
        assert_one_winner(&results, "nonce", round);
        assert!(read(store.as_ref(), |tx| tx.nonce(&h)).expect("row").used);
    }
    assert_eq!(
        read(store.as_ref(), |tx| tx.counts()).nonces_used,
        RACE_ROUNDS as u64
    );
}

/// Two concurrent users of one enrollment token: exactly one succeeds.
pub fn concurrent_enroll_token_is_used_once(factory: Factory<'_>) {
    let (dir, store) = open(factory);
    let second = factory(dir.path());
    for round in 0..RACE_ROUNDS {
        let h = hash(2, round);
        write(store.as_ref(), |tx| {
            tx.insert_enroll_token(&h, "GAD-001", LATER, false, "it", NOW)
        });
        let other = other(round, &store, &second);
        let results = race(&store, &other, move |tx| {
            let row = tx.enroll_token(&h)?;
            if row.is_some_and(|r| r.used) {
                return Ok(false);
            }
            tx.use_enroll_token(&h, NOW)
        });
        assert_one_winner(&results, "enrollment token", round);
    }
    assert_eq!(
        read(store.as_ref(), |tx| tx.counts()).enrollment_tokens_used,
        RACE_ROUNDS as u64
    );
}

/// Two concurrent advances to one seq: exactly one succeeds.
pub fn concurrent_seq_advance_succeeds_once(factory: Factory<'_>) {
    let (dir, store) = open(factory);
    let second = factory(dir.path());
    let d = device("GAD-001", NOW);
    let id = d.device_id;
    write(store.as_ref(), |tx| tx.insert_device(&d));
    for round in 0..RACE_ROUNDS {
        let seq = round as u64 + 1;
        let other = other(round, &store, &second);
        let results = race(&store, &other, move |tx| {
            if !tx.advance_seq(&id, seq)? {
                return Ok(false);
            }
            tx.insert_attestation(&attestation(id, seq, 0))?;
            Ok(true)
        });
        assert_one_winner(&results, "seq", round);
    }
    assert_eq!(
        read(store.as_ref(), |tx| tx.device(&id))
            .expect("row")
            .last_seq,
        Some(RACE_ROUNDS as u64)
    );
    assert_eq!(
        read(store.as_ref(), |tx| tx.counts()).attestations,
        RACE_ROUNDS as u64
    );
}
