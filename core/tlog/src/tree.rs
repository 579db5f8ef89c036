//! RFC 9162 Merkle tree hashing and proof construction (sections 2.1.1, 2.1.3.1, 2.1.4.1).
//!
//! Proofs are built from complete-subtree hashes read through [`NodeSource`], so a store
//! that persists every complete subtree (level, index) answers an inclusion or consistency
//! proof with O(log n) reads instead of rehashing the log: any range `[lo, hi)` that the
//! RFC's recursion asks for is either one stored complete subtree or splits into at most
//! log2(n) of them along the right edge. [`MemoryTree`] is the same over a vector of leaf
//! hashes, for tests and for builders that hold the whole tree.

use ring::digest::{Context, SHA256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

fn finish(ctx: Context) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(data);
    finish(ctx)
}

/// Leaf hash: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[0x00]);
    ctx.update(data);
    finish(ctx)
}

/// Interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    sha256(&buf)
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    sha256(b"")
}

/// The largest power of two strictly less than `n` (`n >= 2`).
pub fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Gives the hash of the complete subtree of `2^level` leaves whose first leaf is
/// `index << level`. Level 0 is the leaf hashes.
pub trait NodeSource {
    /// The backend's error (`Infallible` in memory).
    type Error;
    /// The hash at `(level, index)`; only complete subtrees are asked for.
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// `MTH(D[lo:hi])`: one read when the range is an aligned complete subtree, otherwise the
/// RFC split, whose left half always is one.
pub fn subtree_hash<S: NodeSource + ?Sized>(
    src: &mut S,
    lo: u64,
    hi: u64,
) -> Result<Hash, S::Error> {
    let n = hi - lo;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && lo % n == 0 {
        return src.node(n.trailing_zeros(), lo >> n.trailing_zeros());
    }
    let k = split_point(n);
    let left = subtree_hash(src, lo, lo + k)?;
    let right = subtree_hash(src, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// Root of a tree of `size` leaves.
pub fn root<S: NodeSource + ?Sized>(src: &mut S, size: u64) -> Result<Hash, S::Error> {
    subtree_hash(src, 0, size)
}

/// RFC 9162 `PATH(m, D[n])`, leaf side first. Caller checks `m < size`.
pub fn inclusion_path<S: NodeSource + ?Sized>(
    src: &mut S,
    m: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if m < size {
        path_rec(src, m, 0, size, &mut out)?;
    }
    Ok(out)
}

fn path_rec<S: NodeSource + ?Sized>(
    src: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < lo + k {
        path_rec(src, m, lo, lo + k, out)?;
        out.push(subtree_hash(src, lo + k, hi)?);
    } else {
        path_rec(src, m, lo + k, hi, out)?;
        out.push(subtree_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// RFC 9162 `PROOF(m, D[n])`. Empty when `m == 0` or `m == n`; caller checks `m <= n`.
pub fn consistency_path<S: NodeSource + ?Sized>(
    src: &mut S,
    m: u64,
    n: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if m > 0 && m < n {
        subproof_rec(src, m, 0, n, true, &mut out)?;
    }
    Ok(out)
}

fn subproof_rec<S: NodeSource + ?Sized>(
    src: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if m == hi {
        if !whole {
            out.push(subtree_hash(src, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(hi - lo);
    if m <= lo + k {
        subproof_rec(src, m, lo, lo + k, whole, out)?;
        out.push(subtree_hash(src, lo + k, hi)?);
    } else {
        subproof_rec(src, m, lo + k, hi, false, out)?;
        out.push(subtree_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// Range proof of the leaves `[start, end)` in the tree of `size` leaves: the hashes of
/// the maximal subtrees of the RFC split that are disjoint from the range, left to right.
///
/// With the range's leaf hashes these recompute the root (see
/// [`crate::proof::verify_range`]). Only the two boundary paths of the range are
/// descended, so there are at most about 2 log2(size) hashes, and every hash but the right
/// edge's is one complete-subtree read. Empty unless `start < end <= size` (the caller
/// checks).
pub fn range_path<S: NodeSource + ?Sized>(
    src: &mut S,
    start: u64,
    end: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if start < end && end <= size {
        range_rec(src, start, end, 0, size, &mut out)?;
    }
    Ok(out)
}

fn range_rec<S: NodeSource + ?Sized>(
    src: &mut S,
    start: u64,
    end: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if hi <= start || lo >= end {
        out.push(subtree_hash(src, lo, hi)?);
        return Ok(());
    }
    if start <= lo && hi <= end {
        return Ok(());
    }
    // Partly inside the range, so at least two leaves wide.
    let k = split_point(hi - lo);
    range_rec(src, start, end, lo, lo + k, out)?;
    range_rec(src, start, end, lo + k, hi, out)
}

/// `MTH` of consecutive leaf hashes (the RFC's recursion, over hashes already computed).
pub fn hash_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&hash_of_leaves(&leaves[..k]), &hash_of_leaves(&leaves[k..]))
        }
    }
}

/// A whole tree in memory, every complete subtree kept level by level (the same layout the
/// SQLite store persists).
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf's data.
    pub fn push(&mut self, data: &[u8]) {
        self.push_hash(leaf_hash(data));
    }

    /// Appends an already computed leaf hash, completing every subtree it closes.
    pub fn push_hash(&mut self, leaf: Hash) {
        let mut cur = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(cur);
            let len = self.levels[level].len();
            if len % 2 == 1 {
                break;
            }
            cur = node_hash(&self.levels[level][len - 2], &self.levels[level][len - 1]);
            level += 1;
        }
    }

    /// Root hash of the whole tree (cannot fail in memory).
    pub fn root(&mut self) -> Hash {
        let size = self.size();
        match root(self, size) {
            Ok(h) => h,
            Err(never) => match never {},
        }
    }
}

impl NodeSource for MemoryTree {
    type Error = std::convert::Infallible;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        // Only ever asked for subtrees inside the tree (the recursions stay in [0, size)).
        Ok(self
            .levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .unwrap_or([0u8; 32]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC's definition, straight over the data (no stored nodes).
    fn reference_root(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| i.to_string().into_bytes()).collect()
    }

    #[test]
    fn known_answer_roots() {
        // Computed independently with python3 hashlib (a 10-line RFC 9162 MTH over the byte
        // strings "0", "1", ... "n-1"; the script is in server/tests/log_tree.rs).
        let cases: [(usize, &str); 6] = [
            (
                0,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                1,
                "db3426e878068d28d269b6c87172322ce5372b65756d0789001d34835f601c03",
            ),
            (
                2,
                "cb00989d94a569c0a678ae042b63dcd4625db96440517f37a6eb7976ea24ed4b",
            ),
            (
                3,
                "725d5230db68f557470dc35f1d8865813acd7ebb07ad152774141decbae71327",
            ),
            (
                7,
                "a3e23b32ccb6bf96d092d165d8aa546e09829de8f03b0e8957581d1e16b92bdf",
            ),
            (
                8,
                "3b85a9626c1ccb64c6b95ec7fa64888defe2cf12e39e77e10812ce5fcb9cb58e",
            ),
        ];
        for (n, hex_root) in cases {
            let mut t = MemoryTree::new();
            for l in leaves(n) {
                t.push(&l);
            }
            assert_eq!(hex::encode(t.root()), hex_root, "size {n}");
            assert_eq!(
                hex::encode(reference_root(&leaves(n))),
                hex_root,
                "size {n}"
            );
        }
    }

    #[test]
    fn stored_nodes_agree_with_the_definition() {
        let data = leaves(70);
        let mut t = MemoryTree::new();
        for (i, l) in data.iter().enumerate() {
            t.push(l);
            assert_eq!(t.root(), reference_root(&data[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn split_point_is_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }
}
