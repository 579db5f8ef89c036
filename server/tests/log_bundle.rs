#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! Audit bundles end to end: a log of real enrollments (self-signed enroll requests) and
//! attestations (ES256 tokens) is bundled and verified offline, and every kind of
//! tampering an auditor must catch makes verification fail with the entry named: a byte
//! changed in any entry, proof or the checkpoint, an entry dropped from the middle, a
//! forged attestation the server logged, a missing or forged enrollment, and a checkpoint
//! from a rewritten log presented as the earlier one (`--since`).

use pramaan_core::keys::ServerKey;
use pramaan_server::audit_log::bundle::{self, BuildOptions, Bundle, VerifyError, verify_bundle};
use pramaan_server::audit_log::{self, LogEntry, LogSigner};
use pramaan_testkit::log_fixtures::DemoDevice;
use rusqlite::Connection;
use uuid::Uuid;

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

/// 0: policy, 1-3: three enrollments, 4..: attestations round-robin, one revocation of a
/// fourth device-less id, more attestations.
fn fixture(attestations: u64) -> Fixture {
    let mut conn = Connection::open_in_memory().expect("db");
    audit_log::init_schema(&conn).expect("schema");
    let devices: Vec<_> = (0..3)
        .map(|i| DemoDevice::generate(&format!("officer-{i}")).expect("device"))
        .collect();
    let mut entries = vec![LogEntry::PolicyChange {
        at: 1,
        department: "GAD".into(),
        policy_json: "{\"department\":\"GAD\"}".into(),
        by: "admin".into(),
    }];
    for d in &devices {
        entries.push(d.enrollment(2).expect("enroll"));
    }
    for i in 0..attestations {
        let d = &devices[(i % 3) as usize];
        entries.push(d.attestation(10 + i, i).expect("attest"));
        if i == attestations / 2 {
            entries.push(LogEntry::Revocation {
                at: 10 + i,
                department: "GAD".into(),
                device_id: Uuid::from_u128(99),
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

fn build(f: &Fixture, start: Option<u64>, end: Option<u64>, since: Vec<u64>) -> Bundle {
    let opts = BuildOptions {
        start,
        end,
        since_sizes: since,
        progress: None,
    };
    audit_log::build_bundle_from_db(&f.conn, &f.signer, &opts).expect("build")
}

fn verify(b: &Bundle, vkey: &str) -> Result<bundle::Summary, VerifyError> {
    verify_bundle(&b.to_bytes(), vkey, None)
}

#[test]
fn a_whole_log_bundle_verifies_with_counts() {
    let f = fixture(12);
    let b = build(&f, None, None, vec![]);
    let s = verify(&b, &f.vkey).expect("verifies");
    assert_eq!((s.size, s.start, s.end, s.entries), (17, 0, 17, 17));
    assert_eq!(
        (
            s.enrollments,
            s.attestations,
            s.revocations,
            s.policy_changes
        ),
        (3, 12, 1, 1)
    );
    assert_eq!((s.devices, s.key_enrollments), (3, 0));
    assert_eq!(
        s.root,
        hex::encode(audit_log::root(&f.conn, 17).expect("root"))
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

    for (i, e) in b.entries.iter().enumerate() {
        for pos in [0, e.leaf.len() / 3, e.leaf.len() / 2, e.leaf.len() - 1] {
            let mut t = b.clone();
            t.entries[i].leaf[pos] ^= 0x01;
            let err = verify(&t, &f.vkey).expect_err("changed leaf byte must fail");
            assert!(
                err.to_string().contains(&format!("entry {}", e.index)),
                "{err}"
            );
        }
        for pos in 0..e.proof.len() {
            let mut t = b.clone();
            t.entries[i].proof[pos] ^= 0x80;
            let err = verify(&t, &f.vkey).expect_err("changed proof byte must fail");
            assert!(
                matches!(err, VerifyError::Inclusion { index, .. } if index == e.index),
                "{err}"
            );
        }
    }
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

    // Dropping and renumbering the end of the range to hide it: the proofs no longer fit.
    let mut shifted = dropped.clone();
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
        Err(VerifyError::Checkpoint(_))
    ));
    assert!(matches!(verify(&b, "garbage"), Err(VerifyError::Key(_))));
}

#[test]
fn consistency_with_an_earlier_checkpoint() {
    let mut f = fixture(5);
    let earlier = audit_log::checkpoint(&f.conn, &f.signer).expect("checkpoint");
    let old_size = audit_log::size(&f.conn).expect("size");
    let more: Vec<_> = (0..7)
        .map(|i| f.devices[1].attestation(100 + i, 100 + i).expect("a"))
        .collect();
    append(&mut f.conn, &more);

    let b = build(&f, Some(old_size), None, vec![old_size]);
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
    let old_size = audit_log::size(&f.conn).expect("size");

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
    let b = build(&f, Some(old_size), None, vec![old_size]);
    let err = verify_bundle(&b.to_bytes(), &f.vkey, Some(&rewritten_cp)).expect_err("rewritten");
    assert!(matches!(err, VerifyError::Inconsistent { .. }), "{err}");

    // A log that shrank since the earlier checkpoint is refused too.
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
    assert!(matches!(
        verify_bundle(&shrunk.to_bytes(), &f.vkey, Some(&later)),
        Err(VerifyError::Shrank { .. })
    ));
}

#[test]
fn builder_pages_through_a_server_and_refuses_bad_answers() {
    let f = fixture(1500);
    // A server that answers at most 100 entries per page still yields the full range.
    let mut calls = 0;
    let mut fetch = |req: bundle::Request| {
        calls += 1;
        let req = match req {
            bundle::Request::Entries { start, end } => bundle::Request::Entries {
                start,
                end: end.min(start + 100),
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
    assert!(calls > 300);
    let s = verify(&b, &f.vkey).expect("verifies");
    assert_eq!((s.start, s.end, s.key_enrollments), (1200, 1505, 3));

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
