//! Witnesses: C2SP tlog-cosignature (`cosignature/v1`) and the C2SP tlog-witness
//! `add-checkpoint` request and decision.
//!
//! Why: a checkpoint signed by the log's key proves only that the key signed it. Two
//! copies of one data directory, grown differently, sign two different logs of the same
//! size under the same key, and each auditor verifies the copy they were shown. A witness,
//! run by an office independent of the log's operator (the audit department), remembers
//! the last tree it cosigned for each log and cosigns a new checkpoint only when a
//! consistency proof shows the new tree extends that one. A checkpoint carrying the
//! cosignatures of witnesses an auditor trusts is therefore the one view of the log every
//! other auditor requiring those witnesses was shown.
//!
//! Formats (c2sp.org/tlog-cosignature, c2sp.org/tlog-witness): a cosignature is a note
//! signature line `— <witness name> base64(key id || timestamp u64 BE || Ed25519
//! signature)`, the key id being `SHA-256(name || 0x0A || 0x04 || public key)[..4]` and the
//! signed message `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint text.
//! A witness key is written as a verifier key with type byte 0x04. The `add-checkpoint`
//! body is `old <size>\n`, up to 63 base64 consistency-proof hashes (one per line), an
//! empty line and the signed checkpoint. Everything here parses untrusted bytes: strict,
//! bounded, never panics.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use pramaan_core::keys::ServerKey;
use ring::signature::{ED25519, UnparsedPublicKey};

use crate::checkpoint::{
    Checkpoint, MAX_NOTE_BYTES, MissingSignature, NoteError, VerifierKey, check_name, key_id_for,
    key_label, parse_vkey, sig_line, split_note,
};
use crate::proof::verify_consistency;
use crate::tree::{Hash, empty_root};

/// Signature type byte of Ed25519 `cosignature/v1` keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Most consistency-proof lines an `add-checkpoint` body may carry (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest `add-checkpoint` body: the old size line, 63 proof lines and a note.
pub const MAX_ADD_CHECKPOINT_BYTES: usize = MAX_NOTE_BYTES + 4096;
/// Largest timestamp a cosignature may carry (2^63 - 1, C2SP tlog-cosignature).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;
/// `Content-Type` of a 409 answer: the witness's latest size, decimal, newline.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The message a `cosignature/v1` signs: header, timestamp line, the checkpoint text.
pub fn cosigned_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// A witness's signing identity: its name and Ed25519 key.
pub struct Cosigner {
    name: String,
    key: ServerKey,
    id: [u8; 4],
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cosigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.id))
            .finish()
    }
}

impl Cosigner {
    /// A cosigner named `name` (e.g. `audit.gujarat.gov.in/witness`); refuses a name a
    /// note cannot carry.
    pub fn new(name: String, key: ServerKey) -> Result<Self, NoteError> {
        check_name(&name)?;
        let id = key_id_for(ALG_COSIGNATURE_V1, &name, &key.public_key());
        Ok(Self { name, key, id })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `cosignature/v1` key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// The verifier key text: `<name>+<hex key id>+<base64(0x04 || key)>`.
    pub fn verifier_key(&self) -> String {
        let mut k = vec![ALG_COSIGNATURE_V1];
        k.extend_from_slice(&self.key.public_key());
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(k))
    }

    /// The cosignature line (ending in a newline) on the signed checkpoint `note` at
    /// `timestamp` (POSIX seconds). The note's signatures are not checked here: the
    /// witness checks the log's before it cosigns.
    pub fn cosign(&self, note: &str, timestamp: u64) -> Result<String, NoteError> {
        let (text, _) = split_note(note)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(NoteError::Malformed("timestamp is past 2^63 - 1"));
        }
        let sig = self.key.sign(&cosigned_message(text, timestamp));
        let mut body = timestamp.to_be_bytes().to_vec();
        body.extend_from_slice(&sig);
        Ok(sig_line(&self.name, &self.id, &body))
    }
}

/// A witness's public key, as auditors and logs configure it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessKey {
    /// The witness's name.
    pub name: String,
    /// The `cosignature/v1` key id, checked against name and key when parsed.
    pub id: [u8; 4],
    /// The Ed25519 public key.
    pub key: [u8; 32],
}

impl WitnessKey {
    /// Parses `<name>+<hex8>+<base64(0x04 || key32)>` and checks the key id.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = parse_vkey(text, ALG_COSIGNATURE_V1)?;
        Ok(Self { name, id, key })
    }

    /// `<name>+<hex key id>`, as messages name the witness.
    pub fn label(&self) -> String {
        key_label(&self.name, &self.id)
    }

    /// Verifies this witness's cosignature on `note`; returns its timestamp. Lines of
    /// other keys are ignored; a line of this key that does not verify is an error.
    pub fn verify(&self, note: &str) -> Result<u64, NoteError> {
        let (text, sigs) = split_note(note)?;
        let mut newest = None;
        for sig in sigs
            .iter()
            .filter(|s| s.name == self.name && s.id == self.id)
        {
            let (ts, signature) = sig
                .signature
                .split_first_chunk::<8>()
                .filter(|(_, s)| s.len() == 64)
                .ok_or(NoteError::Malformed(
                    "cosignature is not a timestamp and an Ed25519 signature",
                ))?;
            let ts = u64::from_be_bytes(*ts);
            if ts > MAX_TIMESTAMP {
                return Err(NoteError::Malformed(
                    "cosignature timestamp is past 2^63 - 1",
                ));
            }
            UnparsedPublicKey::new(&ED25519, &self.key)
                .verify(&cosigned_message(text, ts), signature)
                .map_err(|_| NoteError::BadSignature(self.label()))?;
            newest = newest.max(Some(ts));
        }
        newest.ok_or_else(|| {
            NoteError::NoSignature(Box::new(MissingSignature {
                expected: self.label(),
                found: sigs.iter().map(|s| key_label(s.name, &s.id)).collect(),
            }))
        })
    }

    /// This witness's verified cosignature line(s) of `cosigned` (a note or a note with
    /// lines appended), to carry over to another copy of the same checkpoint.
    pub fn lines_of(&self, cosigned: &str) -> Result<String, NoteError> {
        self.verify(cosigned)?;
        let (_, sigs) = split_note(cosigned)?;
        Ok(sigs
            .iter()
            .filter(|s| s.name == self.name && s.id == self.id)
            .map(|s| sig_line(s.name, &s.id, &s.signature))
            .collect())
    }
}

/// Which witnesses cosigned a note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CosignatureCount {
    /// `<name>+<key id>` and cosignature timestamp of each witness whose cosignature verifies.
    pub valid: Vec<(String, u64)>,
    /// `<name>+<key id>` of each witness without a valid cosignature, and why.
    pub missing: Vec<(String, String)>,
}

/// Counts the valid cosignatures on `note` by `keys` (a key given twice counts once).
pub fn count_cosignatures(note: &str, keys: &[WitnessKey]) -> CosignatureCount {
    let mut seen = BTreeSet::new();
    let mut out = CosignatureCount::default();
    for k in keys {
        if !seen.insert((k.name.as_str(), k.id)) {
            continue;
        }
        match k.verify(note) {
            Ok(ts) => out.valid.push((k.label(), ts)),
            Err(NoteError::NoSignature(_)) => out
                .missing
                .push((k.label(), "no cosignature by this witness".into())),
            Err(e) => out.missing.push((k.label(), e.to_string())),
        }
    }
    out
}

/// The checkpoint of a note, without checking any signature (the caller verifies the
/// note; a log reads its own freshly signed note this way).
pub fn checkpoint_of(note: &str) -> Result<Checkpoint, NoteError> {
    let (text, _) = split_note(note)?;
    Checkpoint::parse(text)
}

/// An `add-checkpoint` request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness last cosigned.
    pub old: u64,
    /// Consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub note: String,
}

/// Why an `add-checkpoint` request is refused, with the HTTP status C2SP tlog-witness
/// prescribes ([`Refusal::status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the body is not an `add-checkpoint` request, or `old` is past the size.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404: the witness does not witness this origin.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// 403: no signature of a key the witness trusts for the origin verifies.
    #[error("checkpoint is not signed by a trusted key of its log: {0}")]
    NotSigned(String),
    /// 409: `old` is not the size last cosigned, or a same-size tree with another root.
    #[error("conflict: the witness's latest size for this log is {latest}")]
    Conflict {
        /// The size of the latest checkpoint the witness cosigned for the origin.
        latest: u64,
    },
    /// 422: the consistency proof does not verify against the witness's stored tree.
    #[error("consistency proof from the witnessed tree does not verify: {0}")]
    Inconsistent(String),
}

impl Refusal {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::NotSigned(_) => 403,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }
}

fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl AddCheckpoint {
    /// The request body.
    pub fn to_body(&self) -> String {
        let mut out = format!("old {}\n", self.old);
        for h in &self.proof {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }

    /// Parses a request body (strict: decimal without leading zeroes, base64 hashes of
    /// 32 bytes, at most [`MAX_PROOF_LINES`], bounded size). The note is checked later.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let bad = |m: &str| Refusal::BadRequest(m.to_string());
        if body.len() > MAX_ADD_CHECKPOINT_BYTES {
            return Err(bad("body is too large"));
        }
        let text = std::str::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?;
        let (first, mut rest) = text
            .split_once('\n')
            .ok_or_else(|| bad("no old size line"))?;
        let old = first
            .strip_prefix("old ")
            .and_then(parse_size)
            .ok_or_else(|| bad("first line is not `old <decimal size>`"))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or_else(|| bad("no empty line before the checkpoint"))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let h: Hash = B64
                .decode(line)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| bad("a proof line is not base64 of a 32-byte hash"))?;
            proof.push(h);
        }
        if rest.is_empty() {
            return Err(bad("no checkpoint after the proof"));
        }
        Ok(Self {
            old,
            proof,
            note: rest.to_string(),
        })
    }
}

/// The tree a witness last cosigned for one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessedTree {
    /// Its size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

impl WitnessedTree {
    /// What a witness holds for a log it never cosigned: the empty tree.
    pub fn empty() -> Self {
        Self {
            size: 0,
            root: empty_root(),
        }
    }
}

/// The witness's decision on `req` (C2SP tlog-witness): `keys` are every log key the
/// witness trusts (a key's name is its log's origin), `latest` what it last cosigned for
/// the checkpoint's origin (None: never). Returns the checkpoint to record and cosign.
pub fn check_add_checkpoint(
    req: &AddCheckpoint,
    keys: &[VerifierKey],
    latest: impl FnOnce(&str) -> Option<WitnessedTree>,
) -> Result<Checkpoint, Refusal> {
    let (text, _) = split_note(&req.note).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let cp = Checkpoint::parse(text).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let trusted: Vec<&VerifierKey> = keys.iter().filter(|k| k.name == cp.origin).collect();
    if trusted.is_empty() {
        return Err(Refusal::UnknownOrigin(cp.origin));
    }
    if !trusted.iter().any(|k| k.open(&req.note).is_ok()) {
        let names: Vec<String> = trusted.iter().map(|k| k.label()).collect();
        return Err(Refusal::NotSigned(format!(
            "no valid signature by {}",
            names.join(" or ")
        )));
    }
    if req.old > cp.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is larger than the checkpoint's size {}",
            req.old, cp.size
        )));
    }
    let stored = latest(&cp.origin).unwrap_or_else(WitnessedTree::empty);
    if req.old != stored.size {
        return Err(Refusal::Conflict {
            latest: stored.size,
        });
    }
    if req.old == cp.size && cp.root != stored.root {
        return Err(Refusal::Conflict {
            latest: stored.size,
        });
    }
    verify_consistency(stored.size, cp.size, &stored.root, &cp.root, &req.proof)
        .map_err(|e| Refusal::Inconsistent(e.to_string()))?;
    Ok(cp)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::LogSigner;
    use crate::tree::{MemoryTree, consistency_path};

    fn cosigner(name: &str) -> Cosigner {
        Cosigner::new(name.into(), ServerKey::generate().expect("key")).expect("name")
    }

    fn log() -> LogSigner {
        LogSigner::try_new("pramaan.test/log".into(), ServerKey::generate().expect("k"))
            .expect("name")
    }

    fn tree(leaves: &[&[u8]]) -> MemoryTree {
        let mut t = MemoryTree::new();
        for l in leaves {
            t.push(l);
        }
        t
    }

    #[test]
    fn cosignatures_verify_and_any_change_fails() {
        let w = cosigner("audit.example/witness");
        let wk = WitnessKey::parse(&w.verifier_key()).expect("vkey");
        assert_eq!(wk.id, w.key_id());
        let s = log();
        let note = s.sign_checkpoint(3, &[5u8; 32]).expect("sign");
        let line = w.cosign(&note, 1_700_000_000).expect("cosign");
        assert!(line.starts_with("\u{2014} audit.example/witness "));
        let cosigned = format!("{note}{line}");
        assert_eq!(wk.verify(&cosigned).expect("verifies"), 1_700_000_000);
        // The log signature still verifies on the cosigned note.
        VerifierKey::parse(&s.verifier_key())
            .expect("log vkey")
            .verify_checkpoint(&cosigned)
            .expect("log sig");
        // A cosignature of another checkpoint does not carry over.
        let other = s.sign_checkpoint(4, &[5u8; 32]).expect("sign");
        assert!(matches!(
            wk.verify(&format!("{other}{line}")),
            Err(NoteError::BadSignature(_))
        ));
        // A note (0x01) key is not a witness key and vice versa.
        assert!(WitnessKey::parse(&s.verifier_key()).is_err());
        assert!(VerifierKey::parse(&w.verifier_key()).is_err());
        // Every flipped byte of the cosignature line fails.
        let bytes = cosigned.as_bytes();
        for i in note.len()..bytes.len() - 1 {
            let mut b = bytes.to_vec();
            b[i] ^= 0x01;
            if let Ok(t) = std::str::from_utf8(&b) {
                assert!(wk.verify(t).is_err(), "byte {i} changed still verifies");
            }
        }
    }

    #[test]
    fn counting_names_the_witnesses_missing() {
        let a = cosigner("a.example/w");
        let b = cosigner("b.example/w");
        let note = log().sign_checkpoint(1, &[1u8; 32]).expect("sign");
        let cosigned = format!("{note}{}", a.cosign(&note, 10).expect("cosign"));
        let ka = WitnessKey::parse(&a.verifier_key()).expect("a");
        let kb = WitnessKey::parse(&b.verifier_key()).expect("b");
        let n = count_cosignatures(&cosigned, &[ka.clone(), kb.clone(), ka.clone()]);
        assert_eq!(n.valid, vec![(ka.label(), 10)]);
        assert_eq!(n.missing.len(), 1);
        assert_eq!(n.missing[0].0, kb.label());
        assert_eq!(ka.lines_of(&cosigned).expect("lines").lines().count(), 1);
    }

    #[test]
    fn add_checkpoint_bodies_round_trip_and_malformed_ones_are_400() {
        let note = log().sign_checkpoint(2, &[3u8; 32]).expect("sign");
        let req = AddCheckpoint {
            old: 1,
            proof: vec![[7u8; 32], [8u8; 32]],
            note: note.clone(),
        };
        assert_eq!(
            AddCheckpoint::parse(req.to_body().as_bytes()).expect("parse"),
            req
        );
        let h = B64.encode([7u8; 32]);
        let many = format!("old 1\n{}\n{note}", format!("{h}\n").repeat(64));
        for bad in [
            String::new(),
            "old 1".into(),
            format!("old 01\n\n{note}"),
            format!("old -1\n\n{note}"),
            format!("new 1\n\n{note}"),
            format!("old 1\n{note}"),
            format!("old 1\nAAAA\n\n{note}"),
            "old 1\n\n".into(),
            many,
            format!("old 99999999999999999999\n\n{note}"),
        ] {
            let err = AddCheckpoint::parse(bad.as_bytes()).expect_err(&bad);
            assert_eq!(err.status(), 400, "{bad:?}");
        }
        assert!(AddCheckpoint::parse(&[0xff, b'\n']).is_err());
        assert!(AddCheckpoint::parse(&vec![b'a'; MAX_ADD_CHECKPOINT_BYTES + 1]).is_err());
    }

    #[test]
    fn the_witness_decision_follows_c2sp() {
        let s = log();
        let keys = vec![VerifierKey::parse(&s.verifier_key()).expect("vkey")];
        let mut t = tree(&[b"a", b"b", b"c"]);
        let (root3, size3) = (t.root(), 3);
        let note3 = s.sign_checkpoint(size3, &root3).expect("sign");
        let first = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: note3.clone(),
        };
        let cp = check_add_checkpoint(&first, &keys, |_| None).expect("first");
        assert_eq!(cp.size, 3);
        let stored = WitnessedTree {
            size: 3,
            root: root3,
        };
        // Stale old size: 409 naming the latest.
        assert_eq!(
            check_add_checkpoint(&first, &keys, |_| Some(stored)),
            Err(Refusal::Conflict { latest: 3 })
        );
        // Growing with a good proof passes, with a bad one is 422.
        t.push(b"d");
        t.push(b"e");
        let note5 = s.sign_checkpoint(5, &t.root()).expect("sign");
        let proof = match consistency_path(&mut t, 3, 5) {
            Ok(p) => p,
            Err(never) => match never {},
        };
        let good = AddCheckpoint {
            old: 3,
            proof: proof.clone(),
            note: note5.clone(),
        };
        check_add_checkpoint(&good, &keys, |_| Some(stored)).expect("grows");
        let mut bad = good.clone();
        bad.proof[0][0] ^= 1;
        assert_eq!(
            check_add_checkpoint(&bad, &keys, |_| Some(stored))
                .expect_err("bad proof")
                .status(),
            422
        );
        // A same-size tree with another root: 409.
        let forked = s.sign_checkpoint(3, &[9u8; 32]).expect("sign");
        let same = AddCheckpoint {
            old: 3,
            proof: vec![],
            note: forked,
        };
        assert_eq!(
            check_add_checkpoint(&same, &keys, |_| Some(stored))
                .expect_err("fork")
                .status(),
            409
        );
        // old past the size: 400; unknown origin: 404; wrong key: 403.
        let past = AddCheckpoint {
            old: 6,
            ..good.clone()
        };
        assert_eq!(
            check_add_checkpoint(&past, &keys, |_| Some(stored))
                .expect_err("past")
                .status(),
            400
        );
        let stranger = LogSigner::try_new("other/log".into(), ServerKey::generate().expect("k"))
            .expect("name");
        let unknown = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: stranger.sign_checkpoint(1, &[0u8; 32]).expect("sign"),
        };
        assert_eq!(
            check_add_checkpoint(&unknown, &keys, |_| None)
                .expect_err("unknown")
                .status(),
            404
        );
        let impostor =
            LogSigner::try_new(s.name().into(), ServerKey::generate().expect("k")).expect("name");
        let unsigned = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: impostor.sign_checkpoint(1, &[0u8; 32]).expect("sign"),
        };
        assert_eq!(
            check_add_checkpoint(&unsigned, &keys, |_| None)
                .expect_err("impostor")
                .status(),
            403
        );
    }
}
