//! The chain of checkpoint keys: how an auditor holding only the log's first key follows
//! a rotation of the checkpoint key.
//!
//! Why a chain and not a new key handed around: auditors and witnesses keep the log key
//! they were given years ago; a key that arrives by mail or on the dashboard is exactly
//! what an attacker who took the server would hand out. So a rotation is itself a log
//! entry ([`LogEntry::LogKeyRotated`]) carrying the OLD key's signature over a
//! domain-separated statement naming both keys ([`rotation_statement`]), and the server
//! signs one last checkpoint with the old key whose tree holds that entry (the handover
//! checkpoint). From the key they hold, an auditor checks the handover checkpoint's
//! signature, the entry's inclusion in it and the statement's signature, then trusts the
//! new key; the bundle carries every step ([`crate::bundle::KeyStep`]). The old private
//! key is not kept: a leaked key must stop being able to sign for the log.

use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::LogEntry;
use crate::checkpoint::{LogSigner, NoteError, VerifierKey};

/// What every rotation statement starts with, so the signature can never be taken for a
/// note's or a device answer's.
pub const ROTATION_DOMAIN: &str = "pramaan log key rotation v1\n";

/// The bytes the old key signs: [`ROTATION_DOMAIN`], the old verifier key, a newline,
/// the new verifier key, a newline.
pub fn rotation_statement(old: &str, new: &str) -> Vec<u8> {
    format!("{ROTATION_DOMAIN}{old}\n{new}\n").into_bytes()
}

/// The log entry that hands the log from `old` (which signs it) to `new`.
pub fn rotation_entry(old: &LogSigner, new: &VerifierKey, at: u64, by: &str) -> LogEntry {
    let (old_text, new_text) = (old.verifier_key(), new.to_text());
    let signature = old
        .sign_statement(&rotation_statement(&old_text, &new_text))
        .to_vec();
    LogEntry::LogKeyRotated {
        at,
        old: old_text,
        new: new_text,
        signature,
        by: by.to_string(),
    }
}

/// Why a rotation entry does not hand the log on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The entry rotates away from another key than the one in force.
    #[error("it rotates away from key {from}, but the key in force is {in_force}")]
    NotInForce {
        /// The entry's `old` key (label).
        from: String,
        /// The key in force (label).
        in_force: String,
    },
    /// A key of the entry does not parse.
    #[error("its {which} key: {source}")]
    BadKey {
        /// `old` or `new`.
        which: &'static str,
        /// Why.
        source: NoteError,
    },
    /// The new key is of another log (another name).
    #[error("its new key is named {new:?}, not the log's name {origin:?}")]
    OtherLog {
        /// The log's name.
        origin: String,
        /// The new key's name.
        new: String,
    },
    /// The new key is the old one.
    #[error("its new key is the key in force")]
    SameKey,
    /// The old key's signature over the statement does not verify.
    #[error("the signature over the rotation statement is not the key {0}'s")]
    BadSignature(String),
    /// Not a rotation entry.
    #[error("it is a {0} entry, not a log key rotation")]
    NotRotation(&'static str),
}

/// Checks a rotation entry against the key in force: its `old` is that key, its `new`
/// is a key of the same log, and the old key signed the statement. Returns the new key.
pub fn check_rotation(in_force: &VerifierKey, entry: &LogEntry) -> Result<VerifierKey, ChainError> {
    let LogEntry::LogKeyRotated {
        old,
        new,
        signature,
        ..
    } = entry
    else {
        return Err(ChainError::NotRotation(entry.kind()));
    };
    let from = VerifierKey::parse(old).map_err(|source| ChainError::BadKey {
        which: "old",
        source,
    })?;
    if from != *in_force {
        return Err(ChainError::NotInForce {
            from: from.label(),
            in_force: in_force.label(),
        });
    }
    check_signed(&from, old, new, signature)
}

/// Checks that `old` (parsed as `from`) signed the statement handing over to `new`, and
/// that `new` is another key of the same log. Returns the new key.
pub fn check_signed(
    from: &VerifierKey,
    old: &str,
    new: &str,
    signature: &[u8],
) -> Result<VerifierKey, ChainError> {
    let to = VerifierKey::parse(new).map_err(|source| ChainError::BadKey {
        which: "new",
        source,
    })?;
    if to.name != from.name {
        return Err(ChainError::OtherLog {
            origin: from.name.clone(),
            new: to.name,
        });
    }
    if to.key == from.key {
        return Err(ChainError::SameKey);
    }
    UnparsedPublicKey::new(&ED25519, &from.key)
        .verify(&rotation_statement(old, new), signature)
        .map_err(|_| ChainError::BadSignature(from.label()))?;
    Ok(to)
}

/// The server's record of its key chain (`DATA/log-keys.json`, and the answer of
/// `GET /v1/audit/key-chain`): every checkpoint key, first to current, and for each
/// rotation the index of its entry and the handover checkpoint signed by the old key.
/// Nothing here is trusted by an auditor: the bundle's steps are checked from the key
/// they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChain {
    /// Verifier keys (C2SP text), the log's first key first; one more than rotations.
    pub keys: Vec<String>,
    /// The rotations, in log order.
    pub rotations: Vec<Rotation>,
}

/// One rotation of a [`KeyChain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// The index of the [`LogEntry::LogKeyRotated`] entry.
    pub index: u64,
    /// The handover checkpoint note: signed by the old key, its tree holds the entry.
    pub handover: String,
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use pramaan_core::keys::ServerKey;

    fn signer() -> LogSigner {
        LogSigner::new("t/log".into(), ServerKey::generate().expect("key"))
    }

    #[test]
    fn a_rotation_checks_only_from_the_key_in_force_and_with_its_signature() {
        let (a, b, c) = (signer(), signer(), signer());
        let e = rotation_entry(&a, &b.verifier(), 1, "admin-cli");
        assert_eq!(check_rotation(&a.verifier(), &e), Ok(b.verifier()));
        assert!(matches!(
            check_rotation(&c.verifier(), &e),
            Err(ChainError::NotInForce { .. })
        ));
        // Signed by another key than the one it names as old.
        let LogEntry::LogKeyRotated { signature, .. } = rotation_entry(&c, &b.verifier(), 1, "x")
        else {
            panic!("not a rotation");
        };
        let LogEntry::LogKeyRotated { old, new, .. } = &e else {
            panic!("not a rotation");
        };
        let forged = LogEntry::LogKeyRotated {
            at: 1,
            old: old.clone(),
            new: new.clone(),
            signature,
            by: "x".into(),
        };
        let err = check_rotation(&a.verifier(), &forged).expect_err("forged");
        assert!(err.to_string().contains("not the key t/log+"), "{err}");
        let same = rotation_entry(&a, &a.verifier(), 1, "x");
        assert_eq!(
            check_rotation(&a.verifier(), &same),
            Err(ChainError::SameKey)
        );
        let other = LogSigner::new("other/log".into(), ServerKey::generate().expect("k"));
        let e = rotation_entry(&a, &other.verifier(), 1, "x");
        assert!(matches!(
            check_rotation(&a.verifier(), &e),
            Err(ChainError::OtherLog { .. })
        ));
        assert_eq!(a.verifier().to_text(), a.verifier_key());
    }

    /// The replay follows the chain: a rotation from a key the previous one did not hand
    /// over to is a violation, even with a valid signature.
    #[test]
    fn the_replay_checks_the_chain_order() {
        use crate::semantics::{Replay, ViolationKind};
        let (a, b, c) = (signer(), signer(), signer());
        let mut r = Replay::new(true);
        r.step(0, &rotation_entry(&a, &b.verifier(), 1, "x"));
        r.step(1, &rotation_entry(&b, &c.verifier(), 2, "x"));
        assert!(r.report().is_clean(), "{:?}", r.report().violations);
        assert_eq!(r.log_key(), Some((1, &c.verifier())));
        // From a again: a's key is no longer in force.
        r.step(2, &rotation_entry(&a, &b.verifier(), 3, "x"));
        let v = &r.report().violations;
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].index, v[0].kind), (2, ViolationKind::KeyRotation));
        assert!(
            v[0].message.contains("the key in force is"),
            "{}",
            v[0].message
        );
        assert_eq!(r.log_key(), Some((1, &c.verifier())));
    }
}
