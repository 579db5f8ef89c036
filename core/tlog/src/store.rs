//! The log over any storage: the node-store contract and the operations built on it.
//!
//! Why a trait: the Merkle append and the proof reads are the same algorithm whatever
//! holds the rows (SQLite today, PostgreSQL next). A backend stores leaves and complete
//! subtree hashes ([`LogStore`]); this module appends (writing the leaf hash and the one
//! node per level the leaf completes), computes roots and proofs with O(log n) node reads,
//! and signs checkpoints. A backend runs [`append`] inside the transaction of the state
//! change the entry records, so both commit or neither does.

use crate::checkpoint::LogSigner;
use crate::tree::{self, Hash, NodeSource, leaf_hash, node_hash};
use crate::{LogEntry, LogError};

/// Storage of a log: leaf data and every complete-subtree hash, addressed by
/// `(level, index)` as in [`NodeSource`] (level 0 holds the leaf hashes).
///
/// Writes happen only through [`append`], inside the caller's transaction.
pub trait LogStore: NodeSource {
    /// Number of leaves.
    fn size(&mut self) -> Result<u64, Self::Error>;
    /// Leaves `[start, end)`, clamped to the size, in index order.
    fn leaves(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, Self::Error>;
    /// Stores leaf `index`'s data. Fails if that index is taken (a concurrent appender).
    fn put_leaf(&mut self, index: u64, data: &[u8]) -> Result<(), Self::Error>;
    /// Stores the complete subtree hash at `(level, index)`.
    fn put_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), Self::Error>;
    /// The leaves of `[start, end)` that may be enrollments (whose data after the first
    /// byte starts with [`ENROLLMENT_PREFIX`]; see [`is_enrollment_leaf`]), in index
    /// order. The default filters [`LogStore::leaves`]; a backend may filter where the
    /// rows are (the lookup of an incremental pull scans the log with it).
    fn enrollment_candidates(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, Self::Error> {
        let mut leaves = self.leaves(start, end)?;
        leaves.retain(|(_, leaf)| is_enrollment_leaf(leaf));
        Ok(leaves)
    }
}

fn store_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> LogError {
    LogError::Store(Box::new(e))
}

/// Refuses a tree size larger than the log.
fn check_size<S>(store: &mut S, size: u64) -> Result<(), LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let current = store.size().map_err(store_err)?;
    if size > current {
        return Err(LogError::SizeOutOfRange {
            requested: size,
            size: current,
        });
    }
    Ok(())
}

/// Appends `entry`; returns its leaf index.
pub fn append<S>(store: &mut S, entry: &LogEntry) -> Result<u64, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    append_leaf(store, &entry.to_leaf())
}

/// Appends raw leaf data (tests and benchmarks; the server logs [`LogEntry`]s).
pub fn append_leaf<S>(store: &mut S, data: &[u8]) -> Result<u64, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let index = store.size().map_err(store_err)?;
    store.put_leaf(index, data).map_err(store_err)?;
    let mut cur = leaf_hash(data);
    let mut level = 0u32;
    let mut idx = index;
    store.put_node(level, idx, &cur).map_err(store_err)?;
    while idx & 1 == 1 {
        let left = store.node(level, idx - 1).map_err(store_err)?;
        cur = node_hash(&left, &cur);
        level += 1;
        idx >>= 1;
        store.put_node(level, idx, &cur).map_err(store_err)?;
    }
    Ok(index)
}

/// Number of entries.
pub fn size<S>(store: &mut S) -> Result<u64, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    store.size().map_err(store_err)
}

/// Root hash of the tree of the first `size` entries.
pub fn root<S>(store: &mut S, size: u64) -> Result<Hash, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    check_size(store, size)?;
    tree::root(store, size).map_err(store_err)
}

/// A signed checkpoint (C2SP signed note text) of the log as it is now.
pub fn checkpoint<S>(store: &mut S, signer: &LogSigner) -> Result<String, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let size = store.size().map_err(store_err)?;
    let root = tree::root(store, size).map_err(store_err)?;
    Ok(signer.sign_checkpoint(size, &root)?)
}

/// Entries `[start, end)`, clamped to the log's size.
pub fn entries<S>(store: &mut S, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    store.leaves(start, end).map_err(store_err)
}

/// RFC 9162 inclusion proof of entry `index` in the tree of `size` entries.
pub fn inclusion_proof<S>(store: &mut S, index: u64, size: u64) -> Result<Vec<Hash>, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    check_size(store, size)?;
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    tree::inclusion_path(store, index, size).map_err(store_err)
}

/// RFC 9162 consistency proof between the trees of `old` and `new` entries.
pub fn consistency_proof<S>(store: &mut S, old: u64, new: u64) -> Result<Vec<Hash>, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    check_size(store, new)?;
    if old > new {
        return Err(LogError::SizesOutOfOrder { old, new });
    }
    tree::consistency_path(store, old, new).map_err(store_err)
}

/// Range proof of entries `[start, end)` in the tree of `size` entries (see
/// [`tree::range_path`]): O(log n) hashes and node reads.
pub fn range_proof<S>(store: &mut S, start: u64, end: u64, size: u64) -> Result<Vec<Hash>, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    check_size(store, size)?;
    if start >= end || end > size {
        return Err(LogError::BadRange { start, end, size });
    }
    tree::range_path(store, start, end, size).map_err(store_err)
}

/// Inclusion proofs of several entries in the tree of `size` entries, in the order asked.
pub fn inclusion_proofs<S>(
    store: &mut S,
    size: u64,
    indices: &[u64],
) -> Result<Vec<(u64, Vec<Hash>)>, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    check_size(store, size)?;
    indices
        .iter()
        .map(|&index| {
            if index >= size {
                return Err(LogError::IndexOutOfRange { index, size });
            }
            let p = tree::inclusion_path(store, index, size).map_err(store_err)?;
            Ok((index, p))
        })
        .collect()
}

/// Leaves read per query while scanning for enrollments.
const SCAN_CHUNK: u64 = 65_536;

/// The latest enrollment entry before `before` of each device in `devices`: scans the log
/// backwards from `before` until every device is found or the log's start is reached.
/// Returns `(index, leaf)` pairs in index order; devices without one are left out.
///
/// Why here: an incremental pull needs the enrollments (the device keys) of the devices
/// attesting in the new range, and those usually lie far back in the log. Scanning where
/// the rows are costs a read of the leaves and a byte comparison per leaf
/// ([`is_enrollment_leaf`]); only candidate leaves are decoded.
pub fn find_enrollments<S>(
    store: &mut S,
    before: u64,
    devices: &[uuid::Uuid],
) -> Result<Vec<(u64, Vec<u8>)>, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let mut missing: std::collections::HashSet<uuid::Uuid> = devices.iter().copied().collect();
    let mut found = Vec::new();
    let mut hi = before.min(store.size().map_err(store_err)?);
    while !missing.is_empty() && hi > 0 {
        let lo = hi.saturating_sub(SCAN_CHUNK);
        let candidates = store.enrollment_candidates(lo, hi).map_err(store_err)?;
        for (index, leaf) in candidates.into_iter().rev() {
            if let Ok(LogEntry::Enrollment { device_id, .. }) = LogEntry::from_leaf(&leaf)
                && missing.remove(&device_id)
            {
                found.push((index, leaf));
            }
        }
        hi = lo;
    }
    found.sort_by_key(|(i, _)| *i);
    Ok(found)
}

/// What every enrollment leaf has after its one-byte CBOR map header: the `kind` key and
/// the text `enrollment` (serde writes the tag of [`LogEntry`] first).
pub const ENROLLMENT_PREFIX: &[u8] = b"\x64kind\x6aenrollment";

/// Whether `leaf` may be an enrollment: a byte comparison, no decoding. Every enrollment
/// leaf [`LogEntry::to_leaf`] writes passes (tested); a leaf that passes is still decoded
/// before it is used.
pub fn is_enrollment_leaf(leaf: &[u8]) -> bool {
    leaf.get(1..)
        .is_some_and(|rest| rest.starts_with(ENROLLMENT_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pramaan_core::claims::Assurance;
    use pramaan_core::evidence::EvidenceSummary;
    use uuid::Uuid;

    #[test]
    fn the_enrollment_prefix_matches_enrollment_leaves_and_nothing_else() {
        let enrollment = |evidence| LogEntry::Enrollment {
            at: u64::MAX,
            department: "D".repeat(300),
            officer_id: "o".into(),
            device_id: Uuid::from_u128(3),
            request: vec![0xa5; 2000],
            assurance: Assurance::Hardware,
            evidence,
        };
        for e in [enrollment(None), enrollment(Some(EvidenceSummary::none(5)))] {
            assert!(is_enrollment_leaf(&e.to_leaf()), "{e:?}");
        }
        let others = [
            LogEntry::Revocation {
                at: 2,
                department: "enrollment".into(),
                device_id: Uuid::from_u128(1),
                reason: "enrollment".into(),
                by: "it".into(),
            },
            LogEntry::ReattestRequested {
                at: 6,
                department: "D".into(),
                device_id: Uuid::from_u128(2),
                by: "it".into(),
            },
        ];
        for e in others {
            assert!(!is_enrollment_leaf(&e.to_leaf()), "{}", e.kind());
        }
        assert!(!is_enrollment_leaf(&[]));
        assert!(!is_enrollment_leaf(b"\xa7\x64kind\x6aenrollmen"));
    }
}
