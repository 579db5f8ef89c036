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
