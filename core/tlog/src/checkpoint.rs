//! Checkpoints: C2SP tlog-checkpoint bodies inside C2SP signed notes (Ed25519).
//!
//! Why these formats: a checkpoint in the shape every transparency-log tool reads (origin
//! line, decimal tree size, base64 root hash) signed as a note lets an auditor check our
//! log with off-the-shelf witnesses and verifiers, not only with Pramaan. A note is the
//! text, a blank line, and lines `— <name> <base64(key id || signature)>`; the key id is
//! the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)` (0x01 = Ed25519),
//! and the verifier key is written `<name>+<hex key id>+<base64(0x01 || public key)>`.
//! Everything read here comes from files or servers we do not trust: parsing is strict,
//! bounded and never panics.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use pramaan_core::keys::ServerKey;
use ring::signature::{ED25519, UnparsedPublicKey};

use super::tree::{Hash, sha256};

/// Largest note accepted (checkpoints are a few hundred bytes).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines a note may carry (as golang.org/x/mod/sumdb/note).
pub const MAX_SIGNATURES: usize = 100;
/// Signature algorithm byte of Ed25519 in C2SP signed notes.
const ALG_ED25519: u8 = 0x01;
/// The em dash that starts every signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, key or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name a note cannot carry.
    #[error("invalid key name {0:?} (must be non-empty, no spaces, no '+')")]
    BadName(String),
    /// Verifier key text that is not `<name>+<hex id>+<base64 key>` or whose id mismatches.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(&'static str),
    /// Not a signed note (size, blank line, signature lines).
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// No signature line of the expected key (by name and key id); names the key
    /// expected and the keys that did sign, so a wrong log key is diagnosable.
    #[error("{0}")]
    NoSignature(Box<MissingSignature>),
    /// A signature line of the key whose signature is wrong: the note was altered.
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    /// The note's text is not a checkpoint body.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
    /// A checkpoint of another log.
    #[error("checkpoint origin {found:?} is not the log's name {expected:?}")]
    WrongOrigin {
        /// The verifier key's name.
        expected: String,
        /// The checkpoint's origin line.
        found: String,
    },
}

/// The key a note was expected to be signed by, and the keys that signed it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSignature {
    /// The expected key: `<name>+<hex key id>`.
    pub expected: String,
    /// Each signature line's `<name>+<hex key id>`, in note order.
    pub found: Vec<String>,
}

impl std::fmt::Display for MissingSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "note has no signature by the expected key {}",
            self.expected
        )?;
        if self.found.is_empty() {
            f.write_str("; it carries no signature")
        } else {
            write!(
                f,
                "; it is signed by {} (is this the right key for this log?)",
                self.found.join(", ")
            )
        }
    }
}

/// `<name>+<hex key id>`: how errors name a key.
pub(crate) fn key_label(name: &str, id: &[u8; 4]) -> String {
    format!("{name}+{}", hex::encode(id))
}

/// Checks that `name` can be a note key name (non-empty, no spaces, no `+`).
pub fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name.contains('+')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(NoteError::BadName(name.to_string()));
    }
    Ok(())
}

/// The C2SP key id of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || key)[..4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    key_id_for(ALG_ED25519, name, public_key)
}

/// The C2SP key id of a 32-byte key of signature type `alg`:
/// `SHA-256(name || 0x0A || alg || key)[..4]` (0x01 note signatures, 0x04 cosignatures).
pub(crate) fn key_id_for(alg: u8, name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut buf = Vec::with_capacity(name.len() + 34);
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    buf.push(alg);
    buf.extend_from_slice(public_key);
    let h = sha256(&buf);
    [h[0], h[1], h[2], h[3]]
}

/// Signs checkpoints for the log named `origin`.
pub struct LogSigner {
    name: String,
    key: ServerKey,
    id: [u8; 4],
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.id))
            .finish()
    }
}

impl LogSigner {
    /// `origin` is the log's name, e.g. `pramaan.example/log`; it is both the checkpoint's
    /// origin line and the note key name. A name a note cannot carry (spaces, `+`, empty)
    /// is replaced by `pramaan-log` with a logged error, so the contract stays infallible;
    /// use [`LogSigner::try_new`] to refuse it instead.
    pub fn new(origin: String, key: ServerKey) -> Self {
        let name = match check_name(&origin) {
            Ok(()) => origin,
            Err(e) => {
                log::error!("{e}; using the log name \"pramaan-log\"");
                "pramaan-log".to_string()
            }
        };
        let id = key_id(&name, &key.public_key());
        Self { name, key, id }
    }

    /// Like [`LogSigner::new`] but refuses a name a note cannot carry.
    pub fn try_new(origin: String, key: ServerKey) -> Result<Self, NoteError> {
        check_name(&origin)?;
        Ok(Self::new(origin, key))
    }

    /// The log's name (origin line and note key name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id ([`key_id`] of the name and public key).
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// The C2SP verifier key text: `<name>+<hex key id>+<base64(0x01 || key)>`.
    pub fn verifier_key(&self) -> String {
        self.verifier().to_text()
    }

    /// Signs `text` (which must end in a newline) as a note.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        Ok(format!("{text}\n{}", sig_line(&self.name, &self.id, &sig)))
    }

    /// Signs a key rotation statement ([`crate::keychain::sign_rotation`]); nothing else
    /// is signed with a checkpoint key outside a note.
    pub(crate) fn sign_statement(&self, statement: &[u8]) -> [u8; 64] {
        self.key.sign(statement)
    }

    /// The verifier key, parsed.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.public_key(),
        }
    }

    /// Signs a checkpoint of this log.
    pub fn sign_checkpoint(&self, size: u64, root: &Hash) -> Result<String, NoteError> {
        let cp = Checkpoint {
            origin: self.name.clone(),
            size,
            root: *root,
        };
        self.sign_note(&cp.body())
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed("note is too large"));
    }
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text does not end in a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(NoteError::Malformed("text contains a blank line"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("text contains control characters"));
    }
    Ok(())
}

/// A parsed verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key name, which is also the log's origin.
    pub name: String,
    /// The C2SP key id, checked against name and key when parsed.
    pub id: [u8; 4],
    /// The Ed25519 public key.
    pub key: [u8; 32],
}

impl VerifierKey {
    /// Parses `<name>+<hex8>+<base64(0x01 || key32)>` and checks that the key id matches.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = parse_vkey(text, ALG_ED25519)?;
        Ok(Self { name, id, key })
    }

    /// The C2SP text of the key: `<name>+<hex key id>+<base64(0x01 || key)>` (what
    /// [`VerifierKey::parse`] reads).
    pub fn to_text(&self) -> String {
        let mut k = vec![ALG_ED25519];
        k.extend_from_slice(&self.key);
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(k))
    }

    /// `<name>+<hex key id>`, as errors name the key.
    pub fn label(&self) -> String {
        key_label(&self.name, &self.id)
    }

    /// Opens a signed note: returns its text if a signature line by this key verifies.
    /// Signatures by other keys are ignored, as C2SP prescribes.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (text, sigs) = split_note(note)?;
        let mut found = false;
        for sig in &sigs {
            if sig.name != self.name || sig.id != self.id {
                continue;
            }
            found = true;
            let pk = UnparsedPublicKey::new(&ED25519, &self.key);
            if pk.verify(text.as_bytes(), &sig.signature).is_err() {
                return Err(NoteError::BadSignature(self.name.clone()));
            }
        }
        if found {
            Ok(text)
        } else {
            Err(NoteError::NoSignature(Box::new(MissingSignature {
                expected: self.label(),
                found: sigs.iter().map(|s| key_label(s.name, &s.id)).collect(),
            })))
        }
    }

    /// Opens a signed checkpoint of this log (the origin must be the key's name).
    pub fn verify_checkpoint(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let cp = Checkpoint::parse(self.open(note)?)?;
        if cp.origin != self.name {
            return Err(NoteError::WrongOrigin {
                expected: self.name.clone(),
                found: cp.origin,
            });
        }
        Ok(cp)
    }
}

/// Parses verifier key text `<name>+<hex8>+<base64(alg || key32)>` of signature type
/// `alg` and checks that the key id matches name and key.
pub(crate) fn parse_vkey(text: &str, alg: u8) -> Result<(String, [u8; 4], [u8; 32]), NoteError> {
    let text = text.trim();
    // The name and the hex id hold no '+'; the base64 key may.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadVerifierKey("expected name+keyid+key"));
    };
    check_name(name)?;
    if hex_id.len() != 8 {
        return Err(NoteError::BadVerifierKey("key id is not 8 hex digits"));
    }
    let id_bytes =
        hex::decode(hex_id).map_err(|_| NoteError::BadVerifierKey("key id is not hex"))?;
    let raw = B64
        .decode(b64)
        .map_err(|_| NoteError::BadVerifierKey("key is not base64"))?;
    let (&found_alg, key) = raw
        .split_first()
        .ok_or(NoteError::BadVerifierKey("key is empty"))?;
    if found_alg != alg {
        return Err(NoteError::BadVerifierKey(match alg {
            ALG_ED25519 => "key is not an Ed25519 note key (type 0x01)",
            _ => "key is not an Ed25519 cosignature key (type 0x04)",
        }));
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| NoteError::BadVerifierKey("Ed25519 key is not 32 bytes"))?;
    let id = key_id_for(alg, name, &key);
    if id_bytes != id {
        return Err(NoteError::BadVerifierKey(
            "key id does not match name and key",
        ));
    }
    Ok((name.to_string(), id, key))
}

/// One signature line of a note: key name, key id and the bytes after the key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SigLine<'a> {
    pub(crate) name: &'a str,
    pub(crate) id: [u8; 4],
    pub(crate) signature: Vec<u8>,
}

/// Splits a signed note into its text (ending in a newline) and its signature lines,
/// refusing anything that is not a well-formed note (strict and bounded).
pub(crate) fn split_note(note: &str) -> Result<(&str, Vec<SigLine<'_>>), NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed("note is too large"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let text = &note[..=split];
    let sigs = &note[split + 2..];
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature block does not end in a newline",
        ));
    }
    let mut out = Vec::new();
    for (n, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "signature line does not start with an em dash",
        ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("signature line has no signature"))?;
        let blob = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not base64"))?;
        let (id, signature) = match blob.split_first_chunk::<4>() {
            Some((id, rest)) if !rest.is_empty() => (*id, rest.to_vec()),
            _ => return Err(NoteError::Malformed("signature is too short")),
        };
        out.push(SigLine {
            name,
            id,
            signature,
        });
    }
    Ok((text, out))
}

/// Formats one signature line: `— <name> <base64(key id || signature)>\n`.
pub(crate) fn sig_line(name: &str, id: &[u8; 4], signature: &[u8]) -> String {
    let mut blob = id.to_vec();
    blob.extend_from_slice(signature);
    format!("{SIG_PREFIX}{name} {}\n", B64.encode(blob))
}

/// A C2SP tlog-checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name.
    pub origin: String,
    /// Tree size (number of leaves).
    pub size: u64,
    /// RFC 9162 root hash of the tree of that size.
    pub root: Hash,
}

impl Checkpoint {
    /// `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a body; extension lines after the root are allowed and ignored.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::BadCheckpoint("no origin line"))?;
        let size_line = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("no size line"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(NoteError::BadCheckpoint("size is not a decimal number"));
        }
        let size: u64 = size_line
            .parse()
            .map_err(|_| NoteError::BadCheckpoint("size out of range"))?;
        let root = B64
            .decode(
                lines
                    .next()
                    .ok_or(NoteError::BadCheckpoint("no root hash line"))?,
            )
            .map_err(|_| NoteError::BadCheckpoint("root hash is not base64"))?;
        let root: Hash = root
            .try_into()
            .map_err(|_| NoteError::BadCheckpoint("root hash is not 32 bytes"))?;
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn signer(name: &str) -> LogSigner {
        LogSigner::try_new(name.into(), ServerKey::generate().expect("key")).expect("name")
    }

    #[test]
    fn checkpoint_round_trips_and_verifies() {
        let s = signer("pramaan.example/log");
        let note = s.sign_checkpoint(42, &[7u8; 32]).expect("sign");
        assert!(note.starts_with("pramaan.example/log\n42\nBwcH"));
        assert!(note.contains("\n\n\u{2014} pramaan.example/log "));
        let vk = VerifierKey::parse(&s.verifier_key()).expect("vkey");
        let cp = vk.verify_checkpoint(&note).expect("verify");
        assert_eq!(cp.size, 42);
        assert_eq!(cp.root, [7u8; 32]);
    }

    #[test]
    fn any_changed_byte_of_a_note_fails() {
        let s = signer("log");
        let note = s.sign_checkpoint(3, &[1u8; 32]).expect("sign");
        let vk = VerifierKey::parse(&s.verifier_key()).expect("vkey");
        let bytes = note.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] ^= 0x01;
            if let Ok(t) = std::str::from_utf8(&b) {
                assert!(
                    vk.verify_checkpoint(t).is_err(),
                    "byte {i} changed still verifies"
                );
            }
        }
    }

    #[test]
    fn other_keys_and_bad_keys_are_refused() {
        let a = signer("log");
        let b = signer("log");
        let note = a.sign_checkpoint(1, &[0u8; 32]).expect("sign");
        let vb = VerifierKey::parse(&b.verifier_key()).expect("vkey");
        assert!(matches!(
            vb.verify_checkpoint(&note),
            Err(NoteError::NoSignature(_))
        ));
        // A key whose id does not match.
        let mut vk = a.verifier_key();
        vk.replace_range(4..6, if &vk[4..6] == "00" { "11" } else { "00" });
        assert!(VerifierKey::parse(&vk).is_err());
        for bad in [
            "",
            "log",
            "log+abcd+AQ==",
            "a b+00000000+AQ==",
            "log+zzzzzzzz+AQ==",
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad}");
        }
        assert!(LogSigner::try_new("a b".into(), ServerKey::generate().expect("k")).is_err());
        // Origin must be the key's name.
        let other = Checkpoint {
            origin: "evil".into(),
            size: 1,
            root: [0u8; 32],
        };
        let forged = a.sign_note(&other.body()).expect("sign");
        let va = VerifierKey::parse(&a.verifier_key()).expect("vkey");
        assert!(matches!(
            va.verify_checkpoint(&forged),
            Err(NoteError::WrongOrigin { .. })
        ));
    }

    /// A note checked with the wrong log key says which key was expected and which keys
    /// signed it, by name and key id.
    #[test]
    fn a_missing_signature_names_the_expected_and_the_found_keys() {
        let ours = signer("pramaan.example/log");
        let theirs = signer("copy.example/log");
        let note = theirs.sign_checkpoint(5, &[9u8; 32]).expect("sign");
        let vk = VerifierKey::parse(&ours.verifier_key()).expect("vkey");
        let err = vk.verify_checkpoint(&note).expect_err("wrong key");
        let NoteError::NoSignature(missing) = &err else {
            panic!("not NoSignature: {err}");
        };
        let expected = format!("pramaan.example/log+{}", hex::encode(ours.key_id()));
        let found = format!("copy.example/log+{}", hex::encode(theirs.key_id()));
        assert_eq!(missing.expected, expected);
        assert_eq!(missing.found, vec![found.clone()]);
        let text = err.to_string();
        assert!(text.contains(&expected) && text.contains(&found), "{text}");
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        for bad in [
            "",
            "o\n",
            "o\n01\nAAAA\n",
            "o\n-1\nAAAA\n",
            "o\n1\nnot base64\n",
            "o\n1\nAAAA\n",
            "o\n99999999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
