//! The audit log's SQLite tables: leaf data and every complete subtree hash.
//!
//! Why store internal nodes: an inclusion or consistency proof for any tree size needs
//! only O(log n) complete-subtree hashes (see `pramaan_tlog::tree`), and a complete
//! subtree never changes once its last leaf is appended. So each append writes its leaf
//! hash (level 0) plus the one node per level that it completes (on average one, at most
//! log2 n), and a proof becomes a handful of primary-key lookups instead of a rehash of
//! the log. The algorithms are `pramaan_tlog`'s, over [`SqlNodes`]; appends run inside the
//! caller's transaction, so a state change and its log entry commit or roll back together.
//!
//! The server reaches these rows through its store ([`crate::store::Tx::log`]); the
//! functions here take a bare SQLite connection for the benchmark, the command's tools and
//! the tests, and keep their call sites short. Errors are the store's
//! ([`crate::store::StoreError`]), so the rows behave the same whichever way they are
//! reached. The log's types are re-exported from `pramaan_tlog`.

pub mod bench;

use rusqlite::{Connection, OptionalExtension as _, params};

pub use pramaan_tlog::bundle;
pub use pramaan_tlog::proof;
pub use pramaan_tlog::tree;
pub use pramaan_tlog::{
    Checkpoint, ConsistencyQuery, EntriesQuery, EntriesResponse, EntryJson, Hash, InclusionQuery,
    LogEntry, LogError, LogSigner, MAX_ENTRIES_PER_REQUEST, NoteError, ProofError, ProofResponse,
    VerifierKey, leaf_hash, verify_consistency, verify_inclusion,
};
use pramaan_tlog::{LogStore, tree::NodeSource};

use crate::store::{StoreError, to_i64};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_log_leaves (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
";

/// A partial index of the enrollment leaves (those whose bytes 2..=17 are
/// `pramaan_tlog::store::ENROLLMENT_PREFIX`, hex below), so an incremental pull finds the
/// enrollments holding its devices' keys without reading the log (store migration 3).
pub const ENROLLMENT_INDEX: &str = "CREATE INDEX IF NOT EXISTS audit_log_enrollments \
     ON audit_log_leaves(idx) WHERE substr(data, 2, 16) = X'646b696e646a656e726f6c6c6d656e74'";

/// The query [`ENROLLMENT_INDEX`] answers (the same literal, so SQLite uses the index).
const ENROLLMENT_CANDIDATES: &str = "SELECT idx, data FROM audit_log_leaves \
     WHERE substr(data, 2, 16) = X'646b696e646a656e726f6c6c6d656e74' \
     AND idx >= ?1 AND idx < ?2 ORDER BY idx";

fn sql_int(v: u64) -> Result<i64, StoreError> {
    to_i64("log index", v)
}

fn init(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// Creates the log's tables if they do not exist.
pub fn init_schema(conn: &Connection) -> Result<(), LogError> {
    init(conn).map_err(|e| LogError::Store(Box::new(e)))
}

/// Appends inside the caller's transaction (so the log and the state change commit
/// together). Returns the leaf index.
pub fn append(tx: &rusqlite::Transaction<'_>, entry: &LogEntry) -> Result<u64, LogError> {
    pramaan_tlog::append(&mut SqlNodes(tx), entry)
}

/// Appends raw leaf data (used by tests and benchmarks; the server logs [`LogEntry`]s).
pub fn append_leaf(tx: &rusqlite::Transaction<'_>, data: &[u8]) -> Result<u64, LogError> {
    pramaan_tlog::append_leaf(&mut SqlNodes(tx), data)
}

/// Number of entries.
pub fn size(conn: &Connection) -> Result<u64, LogError> {
    pramaan_tlog::size(&mut SqlNodes(conn))
}

/// Root hash of the tree of the first `size` entries.
pub fn root(conn: &Connection, size: u64) -> Result<Hash, LogError> {
    pramaan_tlog::root(&mut SqlNodes(conn), size)
}

/// A signed checkpoint (C2SP signed note text) of the log as it is now.
pub fn checkpoint(conn: &Connection, signer: &LogSigner) -> Result<String, LogError> {
    pramaan_tlog::checkpoint(&mut SqlNodes(conn), signer)
}

/// Entries `[start, end)`, clamped to the log's size.
pub fn entries(conn: &Connection, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
    pramaan_tlog::entries(&mut SqlNodes(conn), start, end)
}

/// RFC 9162 inclusion proof of entry `index` in the tree of `size` entries.
pub fn inclusion_proof(conn: &Connection, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
    pramaan_tlog::inclusion_proof(&mut SqlNodes(conn), index, size)
}

/// RFC 9162 consistency proof between the trees of `old` and `new` entries.
pub fn consistency_proof(conn: &Connection, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
    pramaan_tlog::consistency_proof(&mut SqlNodes(conn), old, new)
}

/// Builds a bundle straight from a local SQLite log.
pub fn build_bundle_from_db(
    conn: &Connection,
    signer: &LogSigner,
    opts: &bundle::BuildOptions<'_>,
) -> Result<bundle::Bundle, bundle::BuildError> {
    bundle::build_bundle_from_store(&mut SqlNodes(conn), signer, opts)
}

/// `(idx, data)` rows of `sql` (a query of leaves with `?1 <= idx < ?2`, in index order).
fn leaf_rows(
    conn: &Connection,
    sql: &str,
    start: u64,
    end: u64,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let end = end.min(i64::MAX as u64);
    let rows = stmt.query_map(params![sql_int(start.min(end))?, sql_int(end)?], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (i, d) = row?;
        let i = u64::try_from(i)
            .map_err(|_| StoreError::Corrupt(format!("negative leaf index {i}")))?;
        out.push((i, d));
    }
    Ok(out)
}

/// The log's rows on a SQLite connection (or transaction: it derefs to one).
pub struct SqlNodes<'a>(pub &'a Connection);

impl NodeSource for SqlNodes<'_> {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let h: Option<Vec<u8>> = self
            .0
            .prepare_cached("SELECT hash FROM audit_log_nodes WHERE level = ?1 AND idx = ?2")?
            .query_row(params![level, sql_int(index)?], |r| r.get(0))
            .optional()?;
        let h = h.ok_or_else(|| StoreError::Corrupt(format!("missing node ({level}, {index})")))?;
        h.try_into()
            .map_err(|_| StoreError::Corrupt(format!("node ({level}, {index}) is not 32 bytes")))
    }
}

impl LogStore for SqlNodes<'_> {
    fn size(&mut self) -> Result<u64, StoreError> {
        let max: Option<i64> = self
            .0
            .prepare_cached("SELECT MAX(idx) FROM audit_log_leaves")?
            .query_row([], |r| r.get(0))?;
        match max {
            None => Ok(0),
            Some(m) => u64::try_from(m)
                .map(|m| m + 1)
                .map_err(|_| StoreError::Corrupt(format!("negative leaf index {m}"))),
        }
    }

    fn leaves(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        leaf_rows(
            self.0,
            "SELECT idx, data FROM audit_log_leaves WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            start,
            end,
        )
    }

    /// Filtered by SQLite through the partial index [`ENROLLMENT_INDEX`] (only enrollment
    /// rows are visited): the incremental pull's key lookup.
    fn enrollment_candidates(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        leaf_rows(self.0, ENROLLMENT_CANDIDATES, start, end)
    }

    fn put_leaf(&mut self, index: u64, data: &[u8]) -> Result<(), StoreError> {
        self.0
            .prepare_cached("INSERT INTO audit_log_leaves (idx, data) VALUES (?1, ?2)")?
            .execute(params![sql_int(index)?, data])?;
        Ok(())
    }

    fn put_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), StoreError> {
        self.0
            .prepare_cached("INSERT INTO audit_log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?
            .execute(params![level, sql_int(index)?, &hash[..]])?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::tree::{MemoryTree, consistency_path, inclusion_path, root};
    use super::*;

    /// Counts reads, to show proofs cost O(log n) lookups.
    struct Counting<'a>(SqlNodes<'a>, usize);
    impl NodeSource for Counting<'_> {
        type Error = StoreError;
        fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
            self.1 += 1;
            self.0.node(level, index)
        }
    }

    #[test]
    fn stored_tree_matches_memory_tree_and_proofs_are_logarithmic() {
        let mut conn = Connection::open_in_memory().expect("db");
        init(&conn).expect("schema");
        let tx = conn.transaction().expect("tx");
        let mut mem = MemoryTree::new();
        for i in 0..1000u64 {
            let d = format!("leaf {i}");
            assert_eq!(append_leaf(&tx, d.as_bytes()).expect("append"), i);
            mem.push(d.as_bytes());
        }
        tx.commit().expect("commit");
        assert_eq!(size(&conn).expect("size"), 1000);
        for n in [1u64, 2, 3, 7, 8, 100, 513, 999, 1000] {
            let mut src = SqlNodes(&conn);
            assert_eq!(
                root(&mut src, n).expect("root"),
                root(&mut mem, n).expect("root")
            );
        }
        for (m, n) in [
            (0u64, 1000u64),
            (999, 1000),
            (511, 1000),
            (3, 7),
            (500, 777),
        ] {
            let mut c = Counting(SqlNodes(&conn), 0);
            let p = inclusion_path(&mut c, m, n).expect("path");
            assert_eq!(p, inclusion_path(&mut mem, m, n).expect("path"));
            assert!(c.1 <= 2 * 64, "inclusion {m}/{n}: {} reads", c.1);
            let mut c = Counting(SqlNodes(&conn), 0);
            let p = consistency_path(&mut c, m.max(1), n).expect("path");
            assert_eq!(p, consistency_path(&mut mem, m.max(1), n).expect("path"));
            assert!(c.1 <= 2 * 64, "consistency {m}/{n}: {} reads", c.1);
        }
        let e = entries(&conn, 998, 2000).expect("entries");
        assert_eq!(
            e,
            vec![(998, b"leaf 998".to_vec()), (999, b"leaf 999".to_vec())]
        );
        assert!(entries(&conn, 5, 3).expect("entries").is_empty());
    }

    /// Every proof over every (index or old size, tree size) of a 300-leaf log costs at
    /// most 2*ceil(log2 n) + 1 node reads: logarithmic, never a rehash of the log.
    #[test]
    fn proof_reads_are_bounded_by_twice_log_n() {
        let mut conn = Connection::open_in_memory().expect("db");
        init(&conn).expect("schema");
        let tx = conn.transaction().expect("tx");
        for i in 0..300u64 {
            append_leaf(&tx, &i.to_le_bytes()).expect("append");
        }
        tx.commit().expect("commit");
        let mut worst = 0;
        for n in 1..=300u64 {
            let log2 = 64 - (n - 1).leading_zeros() as usize; // ceil(log2 n)
            let bound = 2 * log2 + 1;
            for m in 0..n {
                let mut c = Counting(SqlNodes(&conn), 0);
                inclusion_path(&mut c, m, n).expect("path");
                assert!(c.1 <= bound, "inclusion {m}/{n}: {} reads > {bound}", c.1);
                worst = worst.max(c.1);
                let mut c = Counting(SqlNodes(&conn), 0);
                consistency_path(&mut c, m + 1, n).expect("path");
                assert!(
                    c.1 <= bound,
                    "consistency {}/{n}: {} reads > {bound}",
                    m + 1,
                    c.1
                );
            }
        }
        assert!(worst >= 9, "the bound was exercised ({worst})");
    }

    #[test]
    fn a_rolled_back_transaction_leaves_no_entry() {
        let mut conn = Connection::open_in_memory().expect("db");
        init(&conn).expect("schema");
        {
            let tx = conn.transaction().expect("tx");
            append_leaf(&tx, b"a").expect("append");
            // dropped: rolled back
        }
        assert_eq!(size(&conn).expect("size"), 0);
        let tx = conn.transaction().expect("tx");
        assert_eq!(append_leaf(&tx, b"b").expect("append"), 0);
        tx.commit().expect("commit");
        assert_eq!(size(&conn).expect("size"), 1);
    }

    #[test]
    fn contract_functions_work_in_a_transaction() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("db");
        init_schema(&conn).expect("schema");
        init_schema(&conn).expect("schema twice");
        let signer = LogSigner::new(
            "pramaan.test/log".into(),
            pramaan_core::keys::ServerKey::generate().expect("k"),
        );
        let vk = VerifierKey::parse(&signer.verifier_key()).expect("vk");
        let empty = vk
            .verify_checkpoint(&checkpoint(&conn, &signer).expect("cp"))
            .expect("verify");
        assert_eq!((empty.size, empty.root), (0, tree::empty_root()));
        let tx = conn.transaction().expect("tx");
        for i in 0..5u64 {
            let e = LogEntry::PolicyChange {
                at: i,
                department: "D".into(),
                policy_json: "{}".into(),
                by: "a".into(),
            };
            assert_eq!(append(&tx, &e).expect("append"), i);
        }
        tx.commit().expect("commit");
        assert_eq!(size(&conn).expect("size"), 5);
        let cp = vk
            .verify_checkpoint(&checkpoint(&conn, &signer).expect("cp"))
            .expect("verify");
        assert_eq!(cp.size, 5);
        let all = entries(&conn, 0, 10).expect("entries");
        assert_eq!(all.len(), 5);
        for (i, data) in &all {
            let p = inclusion_proof(&conn, *i, 5).expect("proof");
            verify_inclusion(*i, 5, &leaf_hash(data), &p, &cp.root).expect("verifies");
        }
        let old_root = super::root(&conn, 3).expect("root");
        let p = consistency_proof(&conn, 3, 5).expect("proof");
        verify_consistency(3, 5, &old_root, &cp.root, &p).expect("consistent");
        assert!(inclusion_proof(&conn, 5, 5).is_err());
        assert!(inclusion_proof(&conn, 0, 6).is_err());
        assert!(consistency_proof(&conn, 4, 3).is_err());
        let json = serde_json::to_value(ProofResponse::from_hashes(&p)).expect("json");
        let back: ProofResponse = serde_json::from_value(json).expect("json");
        assert_eq!(back.to_hashes(), Some(p));
        let page = EntriesResponse::load(&mut SqlNodes(&conn), EntriesQuery { start: 3, end: 100 })
            .expect("page");
        assert_eq!(page.entries.len(), 2);
        assert_eq!(page.entries[0].index, 3);
    }

    #[test]
    fn the_enrollment_index_matches_the_tlog_prefix_and_is_used() {
        let hex_prefix = hex::encode(pramaan_tlog::store::ENROLLMENT_PREFIX);
        assert!(ENROLLMENT_INDEX.contains(&hex_prefix));
        assert!(ENROLLMENT_CANDIDATES.contains(&hex_prefix));
        let conn = Connection::open_in_memory().expect("db");
        init_schema(&conn).expect("schema");
        conn.execute_batch(ENROLLMENT_INDEX).expect("index");
        let plan: String = conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {ENROLLMENT_CANDIDATES}"),
                params![0, 10],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(plan.contains("audit_log_enrollments"), "{plan}");
    }
}
