#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! What a hostile log (or anyone reaching a witness) sends a witness, and what a hostile
//! file hands an auditor's `--witness-key` check: `add-checkpoint` bodies and cosigned
//! notes with bytes flipped, inserted or cut. Nothing panics; a changed cosigned note
//! never counts a cosignature it does not carry; the witness never accepts a body whose
//! note its log did not sign.

use pramaan_core::keys::ServerKey;
use pramaan_tlog::LogSigner;
use pramaan_tlog::witness::{
    AddCheckpoint, Cosigner, WitnessKey, WitnessedTree, check_add_checkpoint, count_cosignatures,
};
use pramaan_tlog::{VerifierKey, tree};
use proptest::prelude::*;

struct Fixture {
    log: LogSigner,
    cosigner: Cosigner,
    body: Vec<u8>,
    cosigned: String,
}

fn fixture() -> Fixture {
    let log = LogSigner::new("pramaan.test/log".into(), ServerKey::generate().expect("k"));
    let cosigner = Cosigner::new(
        "audit.test/witness".into(),
        ServerKey::generate().expect("k"),
    )
    .expect("w");
    let mut t = tree::MemoryTree::new();
    for i in 0..5u8 {
        t.push(&[i]);
    }
    let root = tree::root(&mut t, 5).expect("root");
    let note = log.sign_checkpoint(5, &root).expect("sign");
    let body = AddCheckpoint {
        old: 0,
        proof: Vec::new(),
        note: note.clone(),
    }
    .to_body()
    .into_bytes();
    let cosigned = cosigner.cosign(&note, 1_800_000_000).expect("cosign");
    Fixture {
        log,
        cosigner,
        body,
        cosigned,
    }
}

/// `bytes` with an edit at `at` (mod its length): flip, insert or cut.
fn edit(bytes: &[u8], at: usize, kind: u8, value: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        return vec![value];
    }
    let i = at % b.len();
    match kind % 3 {
        0 => b[i] ^= value.max(1),
        1 => b.insert(i, value),
        _ => b.truncate(i),
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn edited_add_checkpoint_bodies_never_panic_nor_pass_unsigned(
        at in any::<usize>(), kind in any::<u8>(), value in any::<u8>()
    ) {
        let f = fixture();
        let keys = [VerifierKey::parse(&f.log.verifier_key()).expect("vkey")];
        let body = edit(&f.body, at, kind, value);
        if let Ok(req) = AddCheckpoint::parse(&body)
            && let Ok(cp) = check_add_checkpoint(&req, &keys, |_| Some(WitnessedTree::empty()))
        {
            // Accepted: then the note is the log's, signed, for exactly this tree.
            prop_assert!(keys[0].verify_checkpoint(&req.note).is_ok());
            prop_assert_eq!(cp.size, 5);
        }
    }

    #[test]
    fn edited_cosigned_notes_never_panic_nor_count_a_forged_cosignature(
        at in any::<usize>(), kind in any::<u8>(), value in any::<u8>()
    ) {
        let f = fixture();
        let key = WitnessKey::parse(&f.cosigner.verifier_key()).expect("wkey");
        let edited = edit(f.cosigned.as_bytes(), at, kind, value);
        let Ok(text) = String::from_utf8(edited) else { return Ok(()); };
        let count = count_cosignatures(&text, std::slice::from_ref(&key));
        let verifies = key.verify(&text).is_ok();
        // The count and the single check agree.
        prop_assert_eq!(count.valid.len(), usize::from(verifies));
        prop_assert_eq!(count.missing.len(), usize::from(!verifies));
        if verifies {
            // Still cosigned: the checkpoint text it covers is unchanged.
            let body = |n: &str| n.split("\n\n").next().map(str::to_string);
            prop_assert_eq!(body(&text), body(&f.cosigned));
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic_the_witness(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let f = fixture();
        let keys = [VerifierKey::parse(&f.log.verifier_key()).expect("vkey")];
        if let Ok(req) = AddCheckpoint::parse(&body) {
            let _ = check_add_checkpoint(&req, &keys, |_| None);
        }
    }
}
