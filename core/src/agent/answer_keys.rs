//! The chain of answer keys: how an enrolled agent follows a rotation of the key that
//! signs the server's answers (receipts and results) without trusting anything new.
//!
//! Why a chain: the agent learns the server's Ed25519 answer key once, in the receipt of
//! its enrollment, over the TLS channel it pinned from IT's QR code, and after that
//! accepts only answers that key signs. When department IT rotates the key
//! (`pramaan admin rotate-key answer`, because it leaked or is old), the new key is
//! endorsed by the old one: an [`Endorsement`], a COSE_Sign1 by the OLD key over
//! `{purpose, old key, new key, since}`. Every answer carries all endorsements, oldest
//! first ([`crate::claims::AttestResult::answer_keys`]). An agent whose key no longer
//! verifies an answer starts at the endorsement made by ITS key, verifies each link with
//! the key before it, and then the answer with the last one ([`follow`]); only then does
//! it keep the new key. A phone that slept through several rotations walks all of them.
//!
//! Domain separation: an endorsement's protected `kid` is [`ENDORSEMENT_KID`] (an
//! answer's is 8 bytes of its key's hash) and its payload names [`ENDORSEMENT_PURPOSE`];
//! neither a receipt nor a result decodes as one, nor one as them, so no signature made
//! for one can be replayed as the other.
//!
//! What is refused ([`AnswerKeyError`]): an answer not signed by the held key with no
//! chain, a chain that does not start at the held key, a link that does not start where
//! the previous one ended (a skipped link), a bad endorsement signature, and an answer
//! that the end of the chain does not verify. The agent treats each as an unverifiable
//! answer: the attestation stays queued and is sent again (a server instance that has not
//! yet read the new key answers with the old one for at most a few seconds).

use serde::{Deserialize, Serialize};

use crate::cose::Sign1;
use crate::keys::ServerKey;

/// The protected `kid` of every endorsement (never an answer's 8-byte kid).
pub const ENDORSEMENT_KID: &[u8] = b"pramaan answer-key endorsement";
/// The `purpose` an endorsement's payload names.
pub const ENDORSEMENT_PURPOSE: &str = "pramaan-answer-key-rotation";
/// Most endorsements an answer carries and an agent walks: rotations are rare (a few in
/// a deployment's life); a longer chain is refused rather than walked.
pub const MAX_CHAIN: usize = 64;

/// Why an answer's key chain was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AnswerKeyError {
    /// The answer is not signed by the held key and carries no endorsements.
    #[error(
        "the answer is signed by a key this phone does not hold and carries no endorsement \
         of it by the key it holds"
    )]
    NoChain,
    /// No endorsement in the chain is made by the held key.
    #[error("the answer's key chain does not start at the key this phone holds")]
    NotFromHeldKey,
    /// An endorsement after the first does not start at the key the one before endorsed.
    #[error("endorsement {0} of the answer's key chain does not continue the one before it")]
    Broken(usize),
    /// An endorsement does not decode or its signature does not verify; holds which.
    #[error("endorsement {index} of the answer's key chain is not valid: {reason}")]
    BadEndorsement {
        /// Its position in the chain.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The key at the end of the chain does not verify the answer.
    #[error("the answer does not verify under the newest key of its chain: {0}")]
    BadAnswer(String),
    /// More endorsements than [`MAX_CHAIN`].
    #[error("the answer's key chain has {0} endorsements, more than the {MAX_CHAIN} accepted")]
    TooLong(usize),
}

/// What an endorsement says: the old key endorses `new_key` as the answer key from `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endorsement {
    /// Always [`ENDORSEMENT_PURPOSE`].
    pub purpose: String,
    /// The key that signs this endorsement (Ed25519, 32 bytes).
    #[serde(with = "serde_bytes")]
    pub old_key: Vec<u8>,
    /// The key it endorses (Ed25519, 32 bytes).
    #[serde(with = "serde_bytes")]
    pub new_key: Vec<u8>,
    /// When the new key took over, seconds since the Unix epoch.
    pub since: u64,
}

impl Endorsement {
    /// The old key, if 32 bytes.
    pub fn from_key(&self) -> Option<[u8; 32]> {
        self.old_key.as_slice().try_into().ok()
    }

    /// The new key, if 32 bytes.
    pub fn to_key(&self) -> Option<[u8; 32]> {
        self.new_key.as_slice().try_into().ok()
    }
}

/// Signs the endorsement of `new_key` by `old` (a COSE_Sign1, [`ENDORSEMENT_KID`]).
pub fn endorse(old: &ServerKey, new_key: &[u8; 32], since: u64) -> Vec<u8> {
    let e = Endorsement {
        purpose: ENDORSEMENT_PURPOSE.into(),
        old_key: old.public_key().to_vec(),
        new_key: new_key.to_vec(),
        since,
    };
    crate::cose::sign_eddsa(old, ENDORSEMENT_KID, crate::claims::encode(&e))
}

/// Reads an endorsement WITHOUT checking its signature: what it claims (to find where a
/// chain starts, and for display). [`verify`] is the check.
pub fn read_unverified(bytes: &[u8]) -> Result<Endorsement, String> {
    let sign1 = Sign1::parse(bytes).map_err(|e| e.to_string())?;
    let e: Endorsement =
        crate::claims::decode(sign1.unverified_payload()).map_err(|e| e.to_string())?;
    if e.purpose != ENDORSEMENT_PURPOSE {
        return Err(format!("its purpose is {:?}", e.purpose));
    }
    if e.from_key().is_none() || e.to_key().is_none() {
        return Err("its keys are not 32 bytes".into());
    }
    Ok(e)
}

/// Verifies an endorsement made by `old_key`: the signature (under [`ENDORSEMENT_KID`])
/// and that it names `old_key` as its signer. Returns what it endorses.
pub fn verify(old_key: &[u8; 32], bytes: &[u8]) -> Result<Endorsement, String> {
    let sign1 = Sign1::parse(bytes).map_err(|e| e.to_string())?;
    let payload = sign1
        .verify_eddsa(old_key, Some(ENDORSEMENT_KID))
        .map_err(|e| e.to_string())?;
    let e: Endorsement = crate::claims::decode(payload).map_err(|e| e.to_string())?;
    if e.purpose != ENDORSEMENT_PURPOSE {
        return Err(format!("its purpose is {:?}", e.purpose));
    }
    if e.from_key().as_ref() != Some(old_key) {
        return Err("it names another signing key than the one that signed it".into());
    }
    if e.to_key().is_none() {
        return Err("the endorsed key is not 32 bytes".into());
    }
    Ok(e)
}

/// Verifies the answer `sign1` with the `held` key, or by following `chain` from it.
/// Returns the verified payload and, when the answer is signed by a newer key, that key
/// (which the caller keeps only after the answer itself is accepted).
pub fn follow<'a>(
    held: &[u8; 32],
    sign1: &'a Sign1,
    chain: &[Vec<u8>],
) -> Result<(&'a [u8], Option<[u8; 32]>), AnswerKeyError> {
    if let Ok(payload) = sign1.verify_eddsa(held, None) {
        return Ok((payload, None));
    }
    if chain.is_empty() {
        return Err(AnswerKeyError::NoChain);
    }
    if chain.len() > MAX_CHAIN {
        return Err(AnswerKeyError::TooLong(chain.len()));
    }
    // The first link the held key made (by what it claims; its signature is checked next).
    let start = chain
        .iter()
        .position(|link| read_unverified(link).is_ok_and(|e| e.from_key().as_ref() == Some(held)))
        .ok_or(AnswerKeyError::NotFromHeldKey)?;
    let mut key = *held;
    for (index, link) in chain.iter().enumerate().skip(start) {
        let claimed = read_unverified(link)
            .map_err(|reason| AnswerKeyError::BadEndorsement { index, reason })?;
        if claimed.from_key() != Some(key) {
            return Err(AnswerKeyError::Broken(index));
        }
        let e = verify(&key, link)
            .map_err(|reason| AnswerKeyError::BadEndorsement { index, reason })?;
        // `verify` checked the length.
        key = e.to_key().ok_or(AnswerKeyError::BadEndorsement {
            index,
            reason: "the endorsed key is not 32 bytes".into(),
        })?;
    }
    let payload = sign1
        .verify_eddsa(&key, None)
        .map_err(|e| AnswerKeyError::BadAnswer(e.to_string()))?;
    Ok((payload, Some(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cose;

    fn keys(n: usize) -> Vec<ServerKey> {
        (0..n)
            .map(|_| ServerKey::generate().expect("key"))
            .collect()
    }

    fn chain(k: &[ServerKey]) -> Vec<Vec<u8>> {
        k.windows(2)
            .enumerate()
            .map(|(i, w)| endorse(&w[0], &w[1].public_key(), 100 + i as u64))
            .collect()
    }

    fn answer(key: &ServerKey) -> Sign1 {
        Sign1::parse(&cose::sign_eddsa(key, b"kid12345", b"answer".to_vec())).expect("parse")
    }

    #[test]
    fn the_held_key_verifies_without_a_chain() {
        let k = keys(1);
        let a = answer(&k[0]);
        assert_eq!(
            follow(&k[0].public_key(), &a, &[]),
            Ok((&b"answer"[..], None))
        );
    }

    #[test]
    fn a_chain_is_followed_from_any_key_on_it() {
        let k = keys(4);
        let c = chain(&k);
        let a = answer(&k[3]);
        for held in &k[..3] {
            assert_eq!(
                follow(&held.public_key(), &a, &c),
                Ok((&b"answer"[..], Some(k[3].public_key())))
            );
        }
    }

    #[test]
    fn forged_broken_and_missing_chains_are_refused() {
        let k = keys(3);
        let c = chain(&k);
        let a = answer(&k[2]);
        let held = k[0].public_key();
        assert_eq!(follow(&held, &a, &[]), Err(AnswerKeyError::NoChain));
        // Skipping a link: the second endorsement alone does not start at the held key.
        assert_eq!(
            follow(&held, &a, &c[1..]),
            Err(AnswerKeyError::NotFromHeldKey)
        );
        // A link removed from the middle.
        let k4 = keys(4);
        let c4 = chain(&k4);
        let skipped = vec![c4[0].clone(), c4[2].clone()];
        assert_eq!(
            follow(&k4[0].public_key(), &answer(&k4[3]), &skipped),
            Err(AnswerKeyError::Broken(1))
        );
        // A link that claims the held key but is signed by another (an attacker's) key.
        let attacker = ServerKey::generate().expect("key");
        let forged = {
            let e = Endorsement {
                purpose: ENDORSEMENT_PURPOSE.into(),
                old_key: held.to_vec(),
                new_key: attacker.public_key().to_vec(),
                since: 1,
            };
            cose::sign_eddsa(&attacker, ENDORSEMENT_KID, crate::claims::encode(&e))
        };
        assert!(matches!(
            follow(&held, &answer(&attacker), &[forged]),
            Err(AnswerKeyError::BadEndorsement { index: 0, .. })
        ));
        // A genuine chain, but the answer is signed by a key not on it.
        assert!(matches!(
            follow(&held, &answer(&attacker), &c),
            Err(AnswerKeyError::BadAnswer(_))
        ));
        assert_eq!(
            follow(&held, &a, &vec![c[0].clone(); MAX_CHAIN + 1]),
            Err(AnswerKeyError::TooLong(MAX_CHAIN + 1))
        );
    }

    #[test]
    fn endorsements_and_answers_cannot_stand_for_each_other() {
        let k = keys(2);
        let e = endorse(&k[0], &k[1].public_key(), 5);
        // An answer signed by the old key is not an endorsement (kid and purpose differ).
        let ans = cose::sign_eddsa(&k[0], b"kid12345", crate::claims::encode(&5u8));
        assert!(verify(&k[0].public_key(), &ans).is_err());
        // The endorsement verifies as one, and its payload is no answer.
        let ok = verify(&k[0].public_key(), &e).expect("valid");
        assert_eq!(ok.to_key(), Some(k[1].public_key()));
        let sign1 = Sign1::parse(&e).expect("parse");
        assert!(
            crate::claims::decode::<crate::claims::AttestResult>(sign1.unverified_payload())
                .is_err()
        );
        // Garbage never panics.
        for cut in 0..e.len() {
            let _ = verify(&k[0].public_key(), &e[..cut]);
            let _ = read_unverified(&e[..cut]);
        }
    }
}
