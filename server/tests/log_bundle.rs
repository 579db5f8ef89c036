#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! Audit bundles end to end: a log of real enrollments (self-signed enroll requests) and
//! attestations (ES256 tokens) is bundled (format 2: one range proof) and verified
//! offline, and every kind of tampering an auditor must catch makes verification fail: a
//! byte changed in any entry (the range proof fails), the range proof, an enrollment, its
//! proof or the checkpoint, an entry dropped from the middle, a forged attestation the
//! server logged, a missing or forged enrollment, and a checkpoint from a rewritten log
//! presented as the earlier one (`--since`). Format 1 bundles (a proof per entry) still
//! verify. Incremental pulls (`--since` alone) carry the new entries, the consistency
//! proof and the enrollments they need; an earlier checkpoint of another log, a larger
//! one or one of the same size with another root is refused; an older bundle checked
//! against a newer checkpoint passes and says so.

use pramaan_core::keys::ServerKey;
use pramaan_server::audit_log::bundle::{
    self, BuildError, BuildOptions, Bundle, VerifyError, verify_bundle,
};
use pramaan_server::audit_log::{self, Checkpoint, LogEntry, LogSigner};
use pramaan_testkit::log_fixtures::DemoDevice;
use rusqlite::Connection;

struct Fixture {
    conn: Connection,
    signer: LogSigner,
    vkey: String,
    devices: Vec<DemoDevice>,
}

fn append(conn: &mut Connection, entries: &[LogEntry]) {
    let tx = conn.transaction().expect("tx");
    for e in entries {
        audit_log::append(&tx, e).expect("append");
    }
    tx.commit().expect("commit");
}

/// 0: policy, 1-3: three enrollments, 4..: attestations round-robin, halfway the
/// enrollment and revocation of a fourth device (a phone lost the day it was set up), more
/// attestations.
/// A department policy as the server logs it (JSON of a valid policy).
fn policy_json() -> String {
    let policy = pramaan_core::policy::Policy::parse(pramaan_testkit::POLICY_GAD).expect("policy");
    serde_json::to_string(&policy).expect("json")
}

fn fixture(attestations: u64) -> Fixture {
    let mut conn = Connection::open_in_memory().expect("db");
    audit_log::init_schema(&conn).expect("schema");
    let devices: Vec<_> = (0..3)
        .map(|i| DemoDevice::generate(&format!("officer-{i}")).expect("device"))
        .collect();
    let lost = DemoDevice::generate("officer-3").expect("device");
    let mut entries = vec![LogEntry::PolicyChange {
        at: 1,
        department: "GAD".into(),
        policy_json: policy_json(),
        by: "admin".into(),
    }];
    for d in &devices {
        entries.push(d.enrollment(2).expect("enroll"));
    }
    for i in 0..attestations {
        let d = &devices[(i % 3) as usize];
        entries.push(d.attestation(10 + i, i).expect("attest"));
        if i == attestations / 2 {
            entries.push(lost.enrollment(10 + i).expect("enroll"));
            entries.push(LogEntry::Revocation {
                at: 10 + i,
                department: "GAD".into(),
                device_id: lost.device_id,
                reason: "lost".into(),
                by: "it-gad".into(),
            });
        }
    }
    append(&mut conn, &entries);
    let signer = LogSigner::new(
        "pramaan.test/log".into(),
        ServerKey::generate().expect("key"),
    );
    let vkey = signer.verifier_key();
    Fixture {
        conn,
        signer,
        vkey,
        devices,
    }
}

fn build(f: &Fixture, start: Option<u64>, end: Option<u64>, since: Vec<Checkpoint>) -> Bundle {
    try_build(f, start, end, since).expect("build")
}

fn try_build(
    f: &Fixture,
    start: Option<u64>,
    end: Option<u64>,
    since: Vec<Checkpoint>,
) -> Result<Bundle, BuildError> {
    let opts = BuildOptions {
        start,
        end,
        since,
        ..BuildOptions::default()
    };
    audit_log::build_bundle_from_db(&f.conn, &f.signer, &opts)
}

/// The log's checkpoint now: the note and what it says.
fn checkpoint_now(conn: &Connection, signer: &LogSigner) -> (String, Checkpoint) {
    let note = audit_log::checkpoint(conn, signer).expect("checkpoint");
    let cp = bundle::since_checkpoint(&note).expect("parse");
    (note, cp)
}

/// The same bundle in format 1: an inclusion proof per entry, no range proof.
fn as_v1(f: &Fixture, b: &Bundle) -> Bundle {
    let size = bundle::unverified_checkpoint(&b.checkpoint)
        .expect("cp")
        .size;
    let mut v1 = b.clone();
    v1.version = bundle::BUNDLE_VERSION_1;
    v1.range_proof.clear();
    for e in &mut v1.entries {
        e.proof = audit_log::proof::hashes_to_bytes(
            &audit_log::inclusion_proof(&f.conn, e.index, size).expect("proof"),
        );
    }
    v1
}

fn verify(b: &Bundle, vkey: &str) -> Result<bundle::Summary, VerifyError> {
    verify_bundle(&b.to_bytes(), vkey, None)
}

#[test]
fn a_whole_log_bundle_verifies_with_counts() {
    let f = fixture(12);
    let b = build(&f, None, None, vec![]);
    let s = verify(&b, &f.vkey).expect("verifies");
    assert_eq!((s.size, s.start, s.end, s.entries), (18, 0, 18, 18));
    assert_eq!(s.bundle_version, bundle::BUNDLE_VERSION);
    assert_eq!(
        b.range_proof.len(),
        0,
        "a whole log needs no hash from outside"
    );
    assert_eq!(
        (
            s.enrollments,
            s.attestations,
            s.revocations,
            s.policy_changes
        ),
        (4, 12, 1, 1)
    );
    assert_eq!((s.devices, s.key_enrollments), (3, 0));
    assert_eq!(
        s.root,
        hex::encode(audit_log::root(&f.conn, 18).expect("root"))
    );
}

#[test]
fn a_middle_range_carries_the_enrollments_that_hold_the_keys() {
    let f = fixture(12);
    let b = build(&f, Some(8), Some(14), vec![]);
    assert_eq!(
        b.enrollments.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let s = verify(&b, &f.vkey).expect("verifies");
    assert_eq!(
        (s.start, s.end, s.entries, s.devices, s.key_enrollments),
        (8, 14, 6, 3, 3)
    );

    // Without them the attestations cannot be checked: the first one is named.
    let mut no_keys = b.clone();
    no_keys.enrollments.clear();
    let err = verify(&no_keys, &f.vkey).expect_err("must fail");
    assert!(
        matches!(err, VerifyError::Attestation { index: 8, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("entry 8"), "{err}");
}

#[test]
fn any_changed_byte_in_an_entry_proof_or_checkpoint_fails() {
    let f = fixture(6);
    let b = build(&f, Some(2), None, vec![]);
    verify(&b, &f.vkey).expect("the untouched bundle verifies");

    assert_eq!(b.version, bundle::BUNDLE_VERSION);
    assert!(b.entries.iter().all(|e| e.proof.is_empty()));
    for (i, e) in b.entries.iter().enumerate() {
        for pos in [0, e.leaf.len() / 3, e.leaf.len() / 2, e.leaf.len() - 1] {
            let mut t = b.clone();
            t.entries[i].leaf[pos] ^= 0x01;
            let err = verify(&t, &f.vkey).expect_err("changed leaf byte must fail");
            assert!(
                matches!(err, VerifyError::RangeProof { start: 2, .. }),
                "{err}"
            );
            assert!(err.to_string().contains("range proof"), "{err}");
        }
    }
    for pos in 0..b.range_proof.len() {
        let mut t = b.clone();
        t.range_proof[pos] ^= 0x80;
        let err = verify(&t, &f.vkey).expect_err("changed proof byte must fail");
        assert!(matches!(err, VerifyError::RangeProof { .. }), "{err}");
    }
    let mut t = b.clone();
    t.range_proof.truncate(t.range_proof.len() - 32);
    assert!(matches!(
        verify(&t, &f.vkey),
        Err(VerifyError::RangeProof { .. })
    ));
    // A format 2 entry smuggling its own proof is refused, not half-checked.
    let mut t = b.clone();
    t.entries[1].proof = vec![0; 32];
    assert!(matches!(
        verify(&t, &f.vkey),
        Err(VerifyError::Entry { index: 3, .. })
    ));
    for (i, e) in b.enrollments.iter().enumerate() {
        let mut t = b.clone();
        t.enrollments[i].leaf[e.leaf.len() / 2] ^= 0x01;
        assert!(verify(&t, &f.vkey).is_err());
        let mut t = b.clone();
        t.enrollments[i].proof[0] ^= 0x01;
        assert!(verify(&t, &f.vkey).is_err());
    }
    let note = b.checkpoint.as_bytes();
    for pos in 0..note.len() {
        let mut m = note.to_vec();
        m[pos] ^= 0x01;
        if let Ok(text) = String::from_utf8(m) {
            let mut t = b.clone();
            t.checkpoint = text;
            assert!(verify(&t, &f.vkey).is_err(), "checkpoint byte {pos}");
        }
    }
    // And at the file level: every 11th byte of the encoded bundle flipped. Either the
    // bundle no longer verifies, or the flip only changed the CBOR spelling of the same
    // content (a map key written as a byte string instead of text decodes to the same
    // field): what was verified is then exactly the original.
    let bytes = b.to_bytes();
    for pos in (0..bytes.len()).step_by(11) {
        let mut m = bytes.clone();
        m[pos] ^= 0x20;
        if verify_bundle(&m, &f.vkey, None).is_ok() {
            assert_eq!(
                Bundle::from_bytes(&m).expect("decodes"),
                b,
                "file byte {pos}"
            );
        }
    }
    // Truncated files and garbage never panic.
    for len in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            verify_bundle(&bytes[..len], &f.vkey, None),
            Err(VerifyError::Format(_))
        ));
    }
}

#[test]
fn dropping_or_reordering_entries_fails_naming_the_gap() {
    let f = fixture(9);
    let b = build(&f, None, None, vec![]);
    let mut dropped = b.clone();
    dropped.entries.remove(5);
    let err = verify(&dropped, &f.vkey).expect_err("gap");
    assert!(
        matches!(err, VerifyError::Gap { index: 5, found: 6 }),
        "{err}"
    );
    assert!(err.to_string().contains("entry 5"));

    // Dropping and renumbering the end of the range to hide it: the proof no longer fits.
    let mut shifted = dropped.clone();
    for (i, e) in shifted.entries.iter_mut().enumerate().skip(5) {
        e.index = i as u64;
    }
    shifted.end -= 1;
    let err = verify(&shifted, &f.vkey).expect_err("renumbered");
    assert!(matches!(err, VerifyError::RangeProof { .. }), "{err}");
    // The same in format 1: the per-entry proof of the first renumbered entry fails.
    let mut shifted = as_v1(&f, &b);
    shifted.entries.remove(5);
    for (i, e) in shifted.entries.iter_mut().enumerate().skip(5) {
        e.index = i as u64;
    }
    shifted.end -= 1;
    let err = verify(&shifted, &f.vkey).expect_err("renumbered");
    assert!(
        matches!(err, VerifyError::Inclusion { index: 5, .. }),
        "{err}"
    );

    let mut last = b.clone();
    last.entries.pop();
    assert!(matches!(
        verify(&last, &f.vkey),
        Err(VerifyError::Truncated { .. })
    ));
    let mut swapped = b.clone();
    swapped.entries.swap(3, 4);
    assert!(matches!(
        verify(&swapped, &f.vkey),
        Err(VerifyError::Gap { index: 3, .. })
    ));
    let mut past = b.clone();
    past.end += 1;
    assert!(matches!(
        verify(&past, &f.vkey),
        Err(VerifyError::Range { .. })
    ));
}

#[test]
fn a_forged_attestation_in_the_log_is_named() {
    let mut f = fixture(3);
    // The server logged a token that device 0 never signed (signed by another key).
    let impostor = DemoDevice::generate("x").expect("device");
    let mut forged = impostor.attestation(50, 1).expect("attest");
    if let LogEntry::Attestation { device_id, .. } = &mut forged {
        *device_id = f.devices[0].device_id;
    }
    append(&mut f.conn, &[forged]);
    let b = build(&f, None, None, vec![]);
    let forged_index = b.end - 1;
    let err = verify(&b, &f.vkey).expect_err("forged");
    match &err {
        VerifyError::Attestation {
            index,
            device_id,
            reason,
        } => {
            assert_eq!(*index, forged_index);
            assert_eq!(*device_id, f.devices[0].device_id);
            assert!(
                reason.contains("kid") || reason.contains("signature"),
                "{reason}"
            );
        }
        other => panic!("wrong error {other}"),
    }
}

#[test]
fn an_enrollment_without_proof_of_possession_is_named() {
    let mut f = fixture(0);
    let d = DemoDevice::generate("o").expect("device");
    let other = DemoDevice::generate("p").expect("device");
    // Request claims d's key but is signed by another key.
    let mut bad = other.enrollment(5).expect("enroll");
    let good = d.enrollment(5).expect("enroll");
    if let (
        LogEntry::Enrollment { request, .. },
        LogEntry::Enrollment {
            request: good_req, ..
        },
    ) = (&mut bad, &good)
    {
        // Keep the signature of `other`, swap in the payload of `d` by re-signing d's payload
        // with other's key.
        let msg = pramaan_core::cose::Sign1::parse(good_req).expect("parse");
        *request =
            pramaan_core::cose::sign_es256(&other.signer, b"", msg.unverified_payload().to_vec())
                .expect("sign");
    }
    append(&mut f.conn, &[bad]);
    let b = build(&f, None, None, vec![]);
    let err = verify(&b, &f.vkey).expect_err("no proof of possession");
    assert!(
        matches!(err, VerifyError::Enrollment { index: 4, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("proof of possession"), "{err}");
}

#[test]
fn wrong_log_key_fails() {
    let f = fixture(2);
    let b = build(&f, None, None, vec![]);
    let other = LogSigner::new("pramaan.test/log".into(), ServerKey::generate().expect("k"));
    assert!(matches!(
        verify(&b, &other.verifier_key()),
        // Signed by another key, which no rotation in the bundle leads to.
        Err(VerifyError::NoKeyChain { .. })
    ));
    assert!(matches!(verify(&b, "garbage"), Err(VerifyError::Key(_))));
}

#[test]
fn consistency_with_an_earlier_checkpoint() {
    let mut f = fixture(5);
    let (earlier, earlier_cp) = checkpoint_now(&f.conn, &f.signer);
    let old_size = earlier_cp.size;
    let more: Vec<_> = (0..7)
        .map(|i| f.devices[1].attestation(100 + i, 100 + i).expect("a"))
        .collect();
    append(&mut f.conn, &more);

    let b = build(&f, Some(old_size), None, vec![earlier_cp]);
    let s = verify_bundle(&b.to_bytes(), &f.vkey, Some(&earlier)).expect("consistent");
    assert_eq!(s.consistent_since, Some(old_size));

    // The same checkpoint as "earlier" is trivially consistent.
    let now = audit_log::checkpoint(&f.conn, &f.signer).expect("checkpoint");
    assert!(verify_bundle(&b.to_bytes(), &f.vkey, Some(&now)).is_ok());

    // Without the proof in the bundle the verifier says how to get it.
    let no_proof = build(&f, Some(old_size), None, vec![]);
    assert!(matches!(
        verify_bundle(&no_proof.to_bytes(), &f.vkey, Some(&earlier)),
        Err(VerifyError::NoConsistencyProof { .. })
    ));

    // A tampered consistency proof fails.
    let mut t = b.clone();
    t.consistency[0].proof[3] ^= 1;
    assert!(matches!(
        verify_bundle(&t.to_bytes(), &f.vkey, Some(&earlier)),
        Err(VerifyError::Inconsistent { .. })
    ));
}

#[test]
fn a_checkpoint_from_a_rewritten_log_fails_consistency() {
    let mut f = fixture(5);
    let (_, earlier_cp) = checkpoint_now(&f.conn, &f.signer);
    let old_size = earlier_cp.size;

    // A rewritten history: same key, same length, one attestation's verdict changed.
    let mut rewritten = Connection::open_in_memory().expect("db");
    audit_log::init_schema(&rewritten).expect("schema");
    let mut leaves = audit_log::entries(&f.conn, 0, old_size).expect("entries");
    let mut e = LogEntry::from_leaf(&leaves[6].1).expect("entry");
    if let LogEntry::Attestation { verdict, .. } = &mut e {
        *verdict = pramaan_core::claims::Verdict::Contraindicated;
    }
    leaves[6].1 = e.to_leaf();
    let tx = rewritten.transaction().expect("tx");
    for (_, leaf) in &leaves {
        audit_log::append_leaf(&tx, leaf).expect("append");
    }
    tx.commit().expect("commit");
    let rewritten_cp = audit_log::checkpoint(&rewritten, &f.signer).expect("checkpoint");

    let more: Vec<_> = (0..4)
        .map(|i| f.devices[2].attestation(200 + i, 200 + i).expect("a"))
        .collect();
    append(&mut f.conn, &more);
    let b = build(&f, Some(old_size), None, vec![earlier_cp]);
    let err = verify_bundle(&b.to_bytes(), &f.vkey, Some(&rewritten_cp)).expect_err("rewritten");
    assert!(matches!(err, VerifyError::Inconsistent { .. }), "{err}");
    // Pulling from the real log with the rewritten checkpoint as the earlier one fails
    // while building (the builder checks the consistency proof before writing).
    let rewritten_parsed = bundle::since_checkpoint(&rewritten_cp).expect("parse");
    assert!(matches!(
        try_build(&f, None, None, vec![rewritten_parsed]),
        Err(BuildError::SinceInconsistent { .. })
    ));

    // A bundle older than the checkpoint given is no alarm: its own checks pass and the
    // summary says it is older.
    let small = build(&f, Some(0), Some(2), vec![]);
    let later = audit_log::checkpoint(&f.conn, &f.signer).expect("checkpoint");
    let mut shrunk_conn = Connection::open_in_memory().expect("db");
    audit_log::init_schema(&shrunk_conn).expect("schema");
    let tx = shrunk_conn.transaction().expect("tx");
    for (_, leaf) in audit_log::entries(&f.conn, 0, 3).expect("entries") {
        audit_log::append_leaf(&tx, &leaf).expect("append");
    }
    tx.commit().expect("commit");
    let shrunk = audit_log::build_bundle_from_db(&shrunk_conn, &f.signer, &BuildOptions::default())
        .expect("build");
    assert!(verify(&small, &f.vkey).is_ok());
    let later_size = bundle::since_checkpoint(&later).expect("parse").size;
    let s = verify_bundle(&shrunk.to_bytes(), &f.vkey, Some(&later)).expect("older bundle");
    assert_eq!(s.older_than_since, Some(later_size));
    assert_eq!((s.size, s.consistent_since), (3, None));
    // A range of the log as it is now, against the same checkpoint: consistent.
    let s = verify_bundle(&small.to_bytes(), &f.vkey, Some(&later)).expect("same size");
    assert_eq!(
        (s.consistent_since, s.older_than_since),
        (Some(later_size), None)
    );
}

#[test]
fn same_size_different_root_is_named_a_fork() {
    let f = fixture(3);
    let (_, cp) = checkpoint_now(&f.conn, &f.signer);
    let b = build(&f, None, None, vec![]);
    // Another log of the same size under the same key: one leaf differs.
    let mut other = Connection::open_in_memory().expect("db");
    audit_log::init_schema(&other).expect("schema");
    let tx = other.transaction().expect("tx");
    for (i, leaf) in audit_log::entries(&f.conn, 0, cp.size).expect("entries") {
        let leaf = if i == 0 {
            LogEntry::PolicyChange {
                at: 1,
                department: "GAD".into(),
                policy_json: policy_json(),
                by: "someone else".into(),
            }
            .to_leaf()
        } else {
            leaf
        };
        audit_log::append_leaf(&tx, &leaf).expect("append");
    }
    tx.commit().expect("commit");
    let (fork_note, fork_cp) = checkpoint_now(&other, &f.signer);
    assert_eq!(fork_cp.size, cp.size);
    let err = verify_bundle(&b.to_bytes(), &f.vkey, Some(&fork_note)).expect_err("fork");
    assert!(
        matches!(err, VerifyError::Fork { size } if size == cp.size),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("two different logs of size {}", cp.size)),
        "{err}"
    );
    // The same checkpoint is consistent with itself.
    let (same, _) = checkpoint_now(&f.conn, &f.signer);
    let s = verify_bundle(&b.to_bytes(), &f.vkey, Some(&same)).expect("same");
    assert_eq!(s.consistent_since, Some(cp.size));
    // Pulling with the fork's checkpoint as the earlier one is refused.
    assert!(matches!(
        try_build(&f, None, None, vec![fork_cp]),
        Err(BuildError::SinceInconsistent { .. })
    ));
}

#[test]
fn pulls_since_a_larger_checkpoint_or_another_log_are_refused_with_the_meaning() {
    let f = fixture(4);
    let (_, cp) = checkpoint_now(&f.conn, &f.signer);
    let larger = Checkpoint {
        size: cp.size + 5,
        ..cp.clone()
    };
    let err = try_build(&f, None, None, vec![larger]).expect_err("larger");
    assert!(matches!(err, BuildError::SinceAhead { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("older backup") && text.contains("rolled back") && text.contains("fork"),
        "{text}"
    );
    let other = Checkpoint {
        origin: "another.example/log".into(),
        ..cp.clone()
    };
    let err = try_build(&f, None, None, vec![other]).expect_err("other log");
    assert!(matches!(err, BuildError::SinceOtherLog { .. }), "{err}");
    assert!(err.to_string().contains("another log"), "{err}");
}

#[test]
fn an_incremental_pull_carries_the_new_entries_the_proof_and_the_keys() {
    let mut f = fixture(30);
    let (earlier, cp) = checkpoint_now(&f.conn, &f.signer);
    // Devices 0 and 2 attest again; a new device enrolls and attests.
    let newcomer = DemoDevice::generate("newcomer").expect("device");
    let mut more = vec![f.devices[0].attestation(500, 500).expect("a")];
    more.push(newcomer.enrollment(501).expect("e"));
    more.push(newcomer.attestation(502, 1).expect("a"));
    more.push(f.devices[2].attestation(503, 503).expect("a"));
    append(&mut f.conn, &more);

    let mut calls = Vec::new();
    let mut fetch = |req: bundle::Request| {
        calls.push(req.clone());
        bundle::serve_request(&mut audit_log::SqlNodes(&f.conn), &f.signer, req)
            .map_err(BuildError::Log)
    };
    let b = bundle::build_bundle(
        &mut fetch,
        &BuildOptions {
            since: vec![cp.clone()],
            ..BuildOptions::default()
        },
    )
    .expect("build");
    assert_eq!((b.start, b.end), (cp.size, cp.size + 4));
    // The enrollments of devices 0 and 2 (entries 1 and 3), not the newcomer's (in range).
    assert_eq!(
        b.enrollments.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(b.consistency.len(), 1);
    // One checkpoint, one page, one range proof, one enrollments lookup, one batched
    // inclusion request, one consistency proof, one key chain request (empty: the key
    // was never rotated): nothing scales with the log.
    assert_eq!(calls.len(), 7, "{calls:?}");
    let s = verify_bundle(&b.to_bytes(), &f.vkey, Some(&earlier)).expect("verifies");
    assert_eq!((s.entries, s.attestations, s.key_enrollments), (4, 3, 2));
    assert_eq!(s.consistent_since, Some(cp.size));
    // An explicit --start wins.
    let b = build(&f, Some(2), None, vec![cp]);
    assert_eq!(b.start, 2);
}

#[test]
fn format_1_bundles_still_verify_and_name_the_entry() {
    let f = fixture(8);
    let b = build(&f, Some(5), None, vec![]);
    let v1 = as_v1(&f, &b);
    let s = verify(&v1, &f.vkey).expect("format 1 verifies");
    assert_eq!(s.bundle_version, 1);
    assert_eq!((s.start, s.entries, s.key_enrollments), (5, b.end - 5, 3));
    let mut t = v1.clone();
    t.entries[2].leaf[20] ^= 1;
    let err = verify(&t, &f.vkey).expect_err("tampered");
    assert!(err.to_string().contains("entry 7"), "{err}");
    let mut t = v1.clone();
    t.entries[0].proof[0] ^= 1;
    assert!(matches!(
        verify(&t, &f.vkey),
        Err(VerifyError::Inclusion { index: 5, .. })
    ));
    // Another version number is refused, not guessed at.
    let mut t = b.clone();
    t.version = 4;
    assert!(matches!(verify(&t, &f.vkey), Err(VerifyError::Format(_))));
}

#[test]
fn pages_are_bounded_by_bytes_and_huge_leaves_still_get_through() {
    let mut f = fixture(0);
    // 80 entries of ~60 KiB, then one of 5 MiB (over the whole page budget).
    // Large but meaningful entries: API tokens with long labels.
    let big = |n: usize, at: u64| LogEntry::ApiTokenIssued {
        at,
        role: "auditor".into(),
        department: None,
        label: "x".repeat(n),
        token_hash: vec![0; 32],
    };
    let mut entries: Vec<_> = (0..80).map(|i| big(60 << 10, 100 + i)).collect();
    entries.push(big(5 << 20, 300));
    entries.push(big(10, 301));
    append(&mut f.conn, &entries);
    let size = audit_log::size(&f.conn).expect("size");
    let mut pages = Vec::new();
    let mut fetch = |req: bundle::Request| {
        let r = bundle::serve_request(&mut audit_log::SqlNodes(&f.conn), &f.signer, req)
            .map_err(BuildError::Log)?;
        if let bundle::Response::Entries(e) = &r {
            pages.push(e.iter().map(|(_, l)| l.len() as u64).collect::<Vec<_>>());
        }
        Ok(r)
    };
    let b = bundle::build_bundle(&mut fetch, &BuildOptions::default()).expect("build");
    assert_eq!(b.end, size);
    for p in &pages {
        let total: u64 = p.iter().sum();
        assert!(
            p.len() == 1 || total <= pramaan_tlog::MAX_PAGE_BYTES,
            "{} entries, {total} bytes",
            p.len()
        );
    }
    assert!(pages.iter().any(|p| p.len() == 1 && p[0] > 5 << 20));
    assert!(pages.len() >= 3, "{}", pages.len());
    verify(&b, &f.vkey).expect("verifies");

    // A client asking for smaller pages gets them.
    let page = audit_log::EntriesResponse::load_bounded(
        &mut audit_log::SqlNodes(&f.conn),
        audit_log::EntriesQuery {
            start: 4,
            end: size,
        },
        200 << 10,
    )
    .expect("page");
    assert_eq!(page.entries.len(), 3);
    assert_eq!(page.next, 7);
}

#[test]
fn builder_pages_through_a_server_and_refuses_bad_answers() {
    let f = fixture(1500);
    // A server that answers at most 100 entries per page still yields the full range.
    let mut calls = 0;
    let mut fetch = |req: bundle::Request| {
        calls += 1;
        let req = match req {
            bundle::Request::Entries {
                start,
                end,
                max_bytes,
            } => bundle::Request::Entries {
                start,
                end: end.min(start + 100),
                max_bytes,
            },
            other => other,
        };
        bundle::serve_request(&mut audit_log::SqlNodes(&f.conn), &f.signer, req)
            .map_err(bundle::BuildError::Log)
    };
    let b = bundle::build_bundle(
        &mut fetch,
        &BuildOptions {
            start: Some(1200),
            ..Default::default()
        },
    )
    .expect("build");
    // Checkpoint, 4 pages, range proof, enrollments, batched inclusions, key chain.
    assert_eq!(calls, 9);
    let s = verify(&b, &f.vkey).expect("verifies");
    assert_eq!((s.start, s.end, s.key_enrollments), (1200, 1506, 3));

    // A server that skips an entry is caught while building.
    let mut skipping = |req: bundle::Request| {
        let mut r = bundle::serve_request(&mut audit_log::SqlNodes(&f.conn), &f.signer, req)
            .map_err(bundle::BuildError::Log)?;
        if let bundle::Response::Entries(e) = &mut r
            && e.len() > 3
        {
            e.remove(2);
        }
        Ok(r)
    };
    assert!(matches!(
        bundle::build_bundle(&mut skipping, &BuildOptions::default()),
        Err(bundle::BuildError::OutOfOrder { .. })
    ));
}

#[test]
fn extreme_indices_and_sizes_are_errors_not_panics() {
    let f = fixture(2);
    let b = build(&f, None, None, vec![]);
    let huge = f
        .signer
        .sign_checkpoint(u64::MAX, &[0u8; 32])
        .expect("sign");
    for (start, end, index) in [
        (u64::MAX, u64::MAX, u64::MAX),
        (0, u64::MAX, 0),
        (u64::MAX - 1, u64::MAX, u64::MAX - 1),
        (5, 3, 5),
    ] {
        for checkpoint in [b.checkpoint.clone(), huge.clone()] {
            let mut t = b.clone();
            t.checkpoint = checkpoint;
            t.start = start;
            t.end = end;
            t.entries.truncate(1);
            t.entries[0].index = index;
            t.enrollments = vec![bundle::BundleEntry {
                index,
                leaf: vec![],
                proof: vec![1; 31],
            }];
            t.consistency = vec![bundle::ConsistencyEntry {
                old_size: u64::MAX,
                proof: vec![0; 64],
            }];
            assert!(verify(&t, &f.vkey).is_err());
            assert!(verify_bundle(&t.to_bytes(), &f.vkey, Some(&huge)).is_err());
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_bytes_never_panic_the_verifier(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let key = "pramaan.test/log+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let _ = verify_bundle(&bytes, key, None);
        let _ = LogEntry::from_leaf(&bytes);
        let _ = Bundle::from_bytes(&bytes);
    }
}
