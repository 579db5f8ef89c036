#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! Checkpoint notes against the published C2SP signed-note example: the PeterNeumann key
//! and note from golang.org/x/mod/sumdb/note's note_test.go (TestSign, TestOpen). Ed25519
//! is deterministic, so signing the same text with the same key must reproduce Go's note
//! byte for byte, and our verifier key text and key id must equal Go's.

use base64::Engine as _;
use pramaan_core::keys::ServerKey;
use pramaan_tlog::{Checkpoint, LogSigner, NoteError, VerifierKey};
use ring::signature::KeyPair as _;

const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// The Go private key text's seed, wrapped as the PKCS#8 v2 document ring reads.
fn peter_key() -> ServerKey {
    // "PRIVATE+KEY+<name>+<id>+<base64>", and the base64 may itself contain '+'.
    let b64 = SKEY.splitn(5, '+').nth(4).expect("key part");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(raw[0], 0x01, "Ed25519");
    let seed: [u8; 32] = raw[1..].try_into().expect("32-byte seed");
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed");
    let mut doc = vec![
        0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    doc.extend_from_slice(&seed);
    doc.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    doc.extend_from_slice(pair.public_key().as_ref());
    ServerKey::from_pkcs8(&doc).expect("pkcs8")
}

#[test]
fn signing_reproduces_the_go_reference_note_byte_for_byte() {
    let signer = LogSigner::try_new("PeterNeumann".into(), peter_key()).expect("name");
    assert_eq!(signer.verifier_key(), VKEY);
    assert_eq!(hex::encode(signer.key_id()), "c74f20a3");
    let note = signer.sign_note(TEXT).expect("sign");
    assert_eq!(note, format!("{TEXT}\n{PETER_SIG}"));
}

#[test]
fn the_go_reference_note_opens_and_other_signers_are_ignored() {
    let vk = VerifierKey::parse(VKEY).expect("vkey");
    assert_eq!(vk.name, "PeterNeumann");
    assert_eq!(vk.id, [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(
        vk.open(&format!("{TEXT}\n{PETER_SIG}")).expect("open"),
        TEXT
    );
    assert_eq!(
        vk.open(&format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}"))
            .expect("open"),
        TEXT
    );
    assert!(matches!(
        vk.open(&format!("{TEXT}\n{ENOCH_SIG}")),
        Err(NoteError::NoSignature(_))
    ));
    // Go's TestOpen malformed-message table, where expressible as &str.
    for bad in [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\u{1}{TEXT}\n{PETER_SIG}"),
        format!(
            "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        format!("{TEXT}\n{}", PETER_SIG.repeat(101)),
    ] {
        assert!(vk.open(&bad).is_err(), "{bad:?}");
    }
    // Invalid signature (Go: peterSig[:60] + "ABCD" + peterSig[60:]).
    let forged = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(vk.open(&forged).is_err());
    // Changed text.
    let changed = format!(
        "{}\n{PETER_SIG}",
        TEXT.replace("cryptography", "cryptographY")
    );
    assert!(matches!(vk.open(&changed), Err(NoteError::BadSignature(_))));
}

#[test]
fn go_verifier_key_manglings_are_refused() {
    // As Go's TestNewVerifier: every proper substring and every single-byte increment.
    let b = VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(VerifierKey::parse(s).is_err() || s.trim() == VKEY, "{s}");
                }
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = std::str::from_utf8(&m) {
            assert!(VerifierKey::parse(s).is_err(), "{s}");
        }
    }
}

#[test]
fn checkpoint_note_is_a_c2sp_tlog_checkpoint() {
    let signer = LogSigner::try_new("pramaan.example/log".into(), peter_key()).expect("name");
    let root = [0xabu8; 32];
    let note = signer.sign_checkpoint(1234, &root).expect("sign");
    let b64 = base64::engine::general_purpose::STANDARD.encode(root);
    let (body, sig) = note.split_once("\n\n").expect("blank line");
    assert_eq!(
        format!("{body}\n"),
        format!("pramaan.example/log\n1234\n{b64}\n")
    );
    assert!(sig.starts_with("\u{2014} pramaan.example/log "));
    let vk = VerifierKey::parse(&signer.verifier_key()).expect("vkey");
    assert_eq!(
        vk.verify_checkpoint(&note).expect("verify"),
        Checkpoint {
            origin: "pramaan.example/log".into(),
            size: 1234,
            root
        }
    );
}
