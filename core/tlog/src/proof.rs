//! RFC 9162 proof verification (sections 2.1.3.2 and 2.1.4.2), as the RFC writes it.
//!
//! These are what an auditor's machine runs on proofs that came from an untrusted server
//! or file, so they follow the RFC's step lists literally (no recursion, no allocation
//! beyond the proof) and reject every malformed shape instead of panicking: indices past
//! the tree, proofs too long or too short, sizes in the wrong order.

use super::tree::{Hash, hash_of_leaves, node_hash, split_point};

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
    /// A range that is empty or does not fit in the tree.
    #[error("range [{start}, {end}) is empty or not within tree size {size}")]
    BadRange {
        /// First leaf of the range.
        start: u64,
        /// End of the range (exclusive).
        end: u64,
        /// The tree size given.
        size: u64,
    },
    /// Not as many leaf hashes as the range has leaves.
    #[error("{found} leaf hashes given for a range of {want} leaves")]
    LeafCount {
        /// Leaves in the range.
        want: u64,
        /// Leaf hashes given.
        found: u64,
    },
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

/// Verifies that `leaves` (leaf hashes) are the leaves `[start, end)` of the tree of
/// `size` leaves whose root is `root`, with a range proof (the hashes of the maximal
/// subtrees of the RFC 9162 split that lie outside the range, left to right, as
/// [`crate::tree::range_path`] builds it).
///
/// The recursion descends only the range's two boundary paths (depth at most 64 whatever
/// the input), consumes every proof hash exactly once and hashes each leaf once; a proof
/// too short, too long, for a shifted range or another size does not lead to `root`.
pub fn verify_range(
    start: u64,
    end: u64,
    size: u64,
    leaves: &[Hash],
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if start >= end || end > size {
        return Err(ProofError::BadRange { start, end, size });
    }
    if leaves.len() as u64 != end - start {
        return Err(ProofError::LeafCount {
            want: end - start,
            found: leaves.len() as u64,
        });
    }
    let mut path = proof.iter();
    let got = range_root(start, end, 0, size, leaves, &mut path)?;
    if path.next().is_some() {
        return Err(ProofError::WrongLength);
    }
    if got != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// `MTH(D[lo:hi])` from the range's leaves and the proof's hashes for the parts outside.
fn range_root(
    start: u64,
    end: u64,
    lo: u64,
    hi: u64,
    leaves: &[Hash],
    path: &mut std::slice::Iter<'_, Hash>,
) -> Result<Hash, ProofError> {
    if hi <= start || lo >= end {
        return path.next().copied().ok_or(ProofError::WrongLength);
    }
    if start <= lo && hi <= end {
        // Inside the range: indices are within `leaves` (its length is end - start).
        let from = usize::try_from(lo - start).map_err(|_| ProofError::WrongLength)?;
        let to = usize::try_from(hi - start).map_err(|_| ProofError::WrongLength)?;
        let part = leaves.get(from..to).ok_or(ProofError::WrongLength)?;
        return Ok(hash_of_leaves(part));
    }
    let k = split_point(hi - lo);
    let left = range_root(start, end, lo, lo + k, leaves, path)?;
    let right = range_root(start, end, lo + k, hi, leaves, path)?;
    Ok(node_hash(&left, &right))
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
    use super::super::tree::{
        MemoryTree, NodeSource, consistency_path, inclusion_path, leaf_hash, range_path, root,
    };
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

    fn leaf_hashes(t: &mut MemoryTree, start: u64, end: u64) -> Vec<Hash> {
        (start..end)
            .map(|i| match t.node(0, i) {
                Ok(h) => h,
                Err(never) => match never {},
            })
            .collect()
    }

    fn range_proof(t: &mut MemoryTree, start: u64, end: u64, size: u64) -> Vec<Hash> {
        match range_path(t, start, end, size) {
            Ok(p) => p,
            Err(never) => match never {},
        }
    }

    /// Every range of every tree up to 40 leaves verifies; any altered leaf, proof hash,
    /// size or shifted range fails.
    #[test]
    fn every_range_proof_up_to_40_verifies_and_any_tampering_fails() {
        let mut full = tree(41);
        for size in 1..=40u64 {
            let r = root(&mut full, size).unwrap_or_default();
            for start in 0..size {
                for end in start + 1..=size {
                    let leaves = leaf_hashes(&mut full, start, end);
                    let proof = range_proof(&mut full, start, end, size);
                    let ok = verify_range(start, end, size, &leaves, &proof, &r);
                    assert_eq!(ok, Ok(()), "[{start},{end}) of {size}");
                    assert!(proof.len() <= 2 * 6, "{} hashes", proof.len());
                    for k in 0..leaves.len() {
                        let mut bad = leaves.clone();
                        bad[k][3] ^= 1;
                        assert!(verify_range(start, end, size, &bad, &proof, &r).is_err());
                    }
                    for k in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[k][30] ^= 4;
                        assert!(verify_range(start, end, size, &leaves, &bad, &r).is_err());
                    }
                    let mut long = proof.clone();
                    long.push([9u8; 32]);
                    assert!(verify_range(start, end, size, &leaves, &long, &r).is_err());
                    if !proof.is_empty() {
                        let short = &proof[..proof.len() - 1];
                        assert!(verify_range(start, end, size, &leaves, short, &r).is_err());
                    }
                    // Another size: the proof must not lead to that tree's root. (The size
                    // itself is authenticated by the signed checkpoint, as for RFC 9162
                    // inclusion proofs: the opaque hashes can stand for either shape.)
                    for other in [size - 1, size + 1] {
                        if other >= end && other != size {
                            let r2 = root(&mut full, other).unwrap_or_default();
                            assert!(verify_range(start, end, other, &leaves, &proof, &r2).is_err());
                        }
                    }
                    // The same leaves claimed one position over.
                    if end < size {
                        assert!(
                            verify_range(start + 1, end + 1, size, &leaves, &proof, &r).is_err()
                        );
                    }
                    if start > 0 {
                        assert!(
                            verify_range(start - 1, end - 1, size, &leaves, &proof, &r).is_err()
                        );
                    }
                    // One leaf missing or added.
                    assert!(verify_range(start, end, size, &leaves[1..], &proof, &r).is_err());
                }
            }
            assert!(verify_range(0, 0, size, &[], &[], &r).is_err());
            assert!(verify_range(0, size + 1, size, &[[0u8; 32]; 41], &[], &r).is_err());
        }
    }

    /// Counts the node reads a proof costs.
    struct Counting<'a>(&'a mut MemoryTree, u64);
    impl NodeSource for Counting<'_> {
        type Error = std::convert::Infallible;
        fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
            self.1 += 1;
            self.0.node(level, index)
        }
    }

    #[test]
    fn range_proofs_of_large_trees_are_logarithmic_and_verify() {
        let mut t = MemoryTree::new();
        for i in 0..5_000u64 {
            t.push(&i.to_le_bytes());
        }
        // A small deterministic generator: the same "random" ranges every run.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..300 {
            let size = 1 + next(5_000);
            let start = next(size);
            let end = start + 1 + next(size - start);
            let r = root(&mut t, size).unwrap_or_default();
            let mut c = Counting(&mut t, 0);
            let proof = match range_path(&mut c, start, end, size) {
                Ok(p) => p,
                Err(never) => match never {},
            };
            assert!(
                proof.len() <= 2 * 13,
                "[{start},{end}) of {size}: {}",
                proof.len()
            );
            assert!(c.1 <= 4 * 13, "[{start},{end}) of {size}: {} reads", c.1);
            let leaves = leaf_hashes(&mut t, start, end);
            assert_eq!(verify_range(start, end, size, &leaves, &proof, &r), Ok(()));
            let mut bad = leaves.clone();
            let k = next(bad.len() as u64) as usize;
            bad[k][0] ^= 1;
            assert_eq!(
                verify_range(start, end, size, &bad, &proof, &r),
                Err(ProofError::RootMismatch)
            );
        }
    }
}
