//! RFC 9162 proof verification (sections 2.1.3.2 and 2.1.4.2), as the RFC writes it.
//!
//! These are what an auditor's machine runs on proofs that came from an untrusted server
//! or file, so they follow the RFC's step lists literally (no recursion, no allocation
//! beyond the proof) and reject every malformed shape instead of panicking: indices past
//! the tree, proofs too long or too short, sizes in the wrong order.

use super::tree::{Hash, node_hash};

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is past the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// Too many or too few hashes for these sizes.
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    /// The proof's hashes do not recompute the root: the data or the proof was altered.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
    /// The old tree is larger than the new one.
    #[error("old tree size {old} is larger than new size {new}")]
    SizesOutOfOrder {
        /// The old size given.
        old: u64,
        /// The new size given.
        new: u64,
    },
    /// Compact proof bytes that are not a whole number of 32-byte hashes.
    #[error("a proof hash is not 32 bytes")]
    BadHash,
}

/// RFC 9162 2.1.3.2: verifies that `leaf` (a leaf hash) is at `index` in the tree of
/// `size` leaves whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 2.1.4.2: verifies that the tree of `old` leaves with root `old_root` is a
/// prefix of the tree of `new` leaves with root `new_root`.
///
/// The RFC's algorithm covers `0 < old < new`; the edges are as every log client treats
/// them: equal sizes need an empty proof and equal roots, and the empty tree is a prefix
/// of every tree (empty proof).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    // Step 1.
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // Step 2: a power-of-two old tree is itself a node of the new one.
    let mut path = proof.iter();
    let first = if old.is_power_of_two() {
        old_root
    } else {
        path.next().ok_or(ProofError::WrongLength)?
    };
    // Step 3.
    let mut f = old - 1;
    let mut s = new - 1;
    // Step 4.
    if f & 1 == 1 {
        while f & 1 == 1 {
            f >>= 1;
            s >>= 1;
        }
    }
    // Step 5.
    let mut fr = *first;
    let mut sr = *first;
    // Step 6.
    for c in path {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Splits concatenated 32-byte hashes (the bundle's compact proof form).
pub fn hashes_from_bytes(bytes: &[u8]) -> Result<Vec<Hash>, ProofError> {
    if bytes.len() % 32 != 0 {
        return Err(ProofError::BadHash);
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Concatenates hashes (inverse of [`hashes_from_bytes`]).
pub fn hashes_to_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

#[cfg(test)]
mod tests {
    use super::super::tree::{MemoryTree, consistency_path, inclusion_path, leaf_hash, root};
    use super::*;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(i.to_string().as_bytes());
        }
        t
    }

    #[test]
    fn every_inclusion_proof_up_to_64_verifies_and_a_wrong_one_fails() {
        let mut full = tree(64);
        for size in 1..=64u64 {
            let r = root(&mut full, size).unwrap_or_default();
            for index in 0..size {
                let leaf = leaf_hash(index.to_string().as_bytes());
                let proof = inclusion_path(&mut full, index, size).unwrap_or_default();
                assert_eq!(
                    verify_inclusion(index, size, &leaf, &proof, &r),
                    Ok(()),
                    "{index}/{size}"
                );
                // Wrong leaf, wrong index, each hash flipped, truncated, extended.
                let other = leaf_hash(b"x");
                assert!(verify_inclusion(index, size, &other, &proof, &r).is_err());
                if size > 1 {
                    let wrong = (index + 1) % size;
                    assert!(verify_inclusion(wrong, size, &leaf, &proof, &r).is_err());
                }
                for k in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[k][7] ^= 1;
                    assert!(verify_inclusion(index, size, &leaf, &bad, &r).is_err());
                }
                if !proof.is_empty() {
                    let short = &proof[..proof.len() - 1];
                    assert!(verify_inclusion(index, size, &leaf, short, &r).is_err());
                }
                let mut long = proof.clone();
                long.push([0u8; 32]);
                assert!(verify_inclusion(index, size, &leaf, &long, &r).is_err());
                assert!(verify_inclusion(size, size, &leaf, &proof, &r).is_err());
            }
        }
    }

    #[test]
    fn every_consistency_proof_up_to_64_verifies_and_a_wrong_one_fails() {
        let mut full = tree(64);
        for new in 0..=64u64 {
            let new_root = root(&mut full, new).unwrap_or_default();
            for old in 0..=new {
                let old_root = root(&mut full, old).unwrap_or_default();
                let proof = consistency_path(&mut full, old, new).unwrap_or_default();
                assert_eq!(
                    verify_consistency(old, new, &old_root, &new_root, &proof),
                    Ok(()),
                    "{old}->{new}"
                );
                for k in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[k][0] ^= 0x80;
                    assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
                }
                if old > 0 {
                    let mut fake = old_root;
                    fake[31] ^= 1;
                    assert!(verify_consistency(old, new, &fake, &new_root, &proof).is_err());
                    if !proof.is_empty() {
                        let short = &proof[..proof.len() - 1];
                        assert!(verify_consistency(old, new, &old_root, &new_root, short).is_err());
                    }
                }
                if old < new {
                    let mut fake = new_root;
                    fake[0] ^= 1;
                    if old > 0 {
                        assert!(verify_consistency(old, new, &old_root, &fake, &proof).is_err());
                    }
                    let mut long = proof.clone();
                    long.push([1u8; 32]);
                    assert!(verify_consistency(old, new, &old_root, &new_root, &long).is_err());
                    assert!(verify_consistency(new, old, &new_root, &old_root, &proof).is_err());
                }
            }
        }
    }

    #[test]
    fn hash_lists_round_trip_and_reject_ragged_input() {
        let hs = vec![[1u8; 32], [2u8; 32]];
        assert_eq!(hashes_from_bytes(&hashes_to_bytes(&hs)), Ok(hs));
        assert_eq!(hashes_from_bytes(&[0u8; 33]), Err(ProofError::BadHash));
        assert_eq!(hashes_from_bytes(&[]), Ok(vec![]));
    }
}
