//! What a data directory's database takes on disk, table by table (issue 15: sizing,
//! `pramaan bench --sizing`, docs/sizing.md): SQLite ([`sqlite_usage`]) and PostgreSQL
//! ([`postgres_usage`]).
//!
//! Why measured and not computed from row sizes: a row costs its payload plus B-tree
//! pages, indexes and page slack, and the log's tree keeps interior node hashes beside
//! the leaves. The only honest figure is the file itself, after the WAL has been folded
//! into it (`PRAGMA wal_checkpoint(TRUNCATE)`: `page_count * page_size` is then the
//! database's size), split by SQLite's own `dbstat` table (bytes of every page of each
//! table and of its indexes). Reading opens a second connection; the server may keep
//! running (a checkpoint that a writer holds back is retried by the caller's next
//! measurement, and the figures then include the WAL's pages not yet folded: reported).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

/// The tables of the audit log (leaves and the tree's stored node hashes).
pub const LOG_TABLES: [&str; 2] = ["audit_log_leaves", "audit_log_nodes"];

/// Why the database could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum SizingError {
    /// SQLite refused a statement (the file is not a database, or is locked).
    #[error("measuring {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL database could not be read.
    #[error("measuring the database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A page count or size SQLite reported is negative (a corrupt file).
    #[error("measuring {path}: SQLite reported a negative size")]
    Negative {
        /// The database file.
        path: String,
    },
}

/// The database's bytes on disk, and each table's share (its indexes included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiskUsage {
    /// `page_count * page_size` after the WAL checkpoint.
    pub file_bytes: u64,
    /// Pages of each table and its indexes, in bytes (SQLite's own schema tables
    /// included under their names).
    pub tables: BTreeMap<String, u64>,
    /// Pages on the freelist (reused before the file grows), in bytes.
    pub free_bytes: u64,
    /// Whether the WAL checkpoint folded every frame (false when a reader or writer held
    /// some back: the figures then miss those pages).
    pub wal_folded: bool,
}

impl DiskUsage {
    /// Bytes of the audit log's tables ([`LOG_TABLES`]).
    pub fn log_bytes(&self) -> u64 {
        LOG_TABLES.iter().filter_map(|t| self.tables.get(*t)).sum()
    }

    /// Bytes of `table` (0 when it does not exist).
    pub fn table(&self, table: &str) -> u64 {
        self.tables.get(table).copied().unwrap_or(0)
    }
}

/// Folds the WAL of the database at `db` into it and measures it ([`DiskUsage`]).
pub fn sqlite_usage(db: &Path) -> Result<DiskUsage, SizingError> {
    let path = db.display().to_string();
    let sql = |source| SizingError::Sqlite {
        path: path.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    // (busy, frames in the WAL, frames folded): busy = 1 when it could not finish.
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(sql)?;
    let pragma = |name: &str| -> Result<u64, SizingError> {
        let v: i64 = conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .map_err(sql)?;
        u64::try_from(v).map_err(|_| SizingError::Negative { path: path.clone() })
    };
    let page_size = pragma("page_size")?;
    let file_bytes = pragma("page_count")?.saturating_mul(page_size);
    let free_bytes = pragma("freelist_count")?.saturating_mul(page_size);
    let mut stmt = conn
        .prepare(
            "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat s \
             LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(sql)?;
    let mut tables = BTreeMap::new();
    for row in rows {
        let (name, bytes) = row.map_err(sql)?;
        let bytes =
            u64::try_from(bytes).map_err(|_| SizingError::Negative { path: path.clone() })?;
        tables.insert(name, bytes);
    }
    Ok(DiskUsage {
        file_bytes,
        tables,
        free_bytes,
        wal_folded: busy == 0,
    })
}

/// Measures a PostgreSQL database: each table's `pg_total_relation_size` (indexes and
/// TOAST included). Dead rows not yet vacuumed count, as they take disk; there is no
/// freelist or WAL share to report (`free_bytes` 0, `wal_folded` true).
pub fn postgres_usage(store: &crate::store::PostgresStore) -> Result<DiskUsage, SizingError> {
    let mut tables = BTreeMap::new();
    for (name, bytes) in store.table_bytes()? {
        let bytes = u64::try_from(bytes).map_err(|_| SizingError::Negative {
            path: format!("table {name}"),
        })?;
        tables.insert(name, bytes);
    }
    Ok(DiskUsage {
        file_bytes: tables.values().sum(),
        tables,
        free_bytes: 0,
        wal_folded: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_measured_table_by_table_and_grows_with_its_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("pramaan.db");
        let store = crate::store::SqliteStore::open(&db).expect("store");
        let empty = sqlite_usage(&db).expect("measure");
        assert!(empty.wal_folded);
        assert!(empty.file_bytes > 0 && empty.tables.contains_key("audit_log_leaves"));
        let total: u64 = empty.tables.values().sum();
        assert_eq!(total + empty.free_bytes, empty.file_bytes, "{empty:?}");
        crate::store::transaction(&store, |tx| {
            for i in 0..200u64 {
                tx.append_log(&crate::store::LogEntry::PolicyChange {
                    at: i,
                    department: "GAD".into(),
                    policy_json: "x".repeat(500),
                    by: "admin".into(),
                })?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .expect("append");
        let grown = sqlite_usage(&db).expect("measure");
        assert!(
            grown.log_bytes() >= empty.log_bytes() + 200 * 500,
            "{empty:?} {grown:?}"
        );
        assert!(grown.file_bytes > empty.file_bytes);
        assert_eq!(grown.table("no_such_table"), 0);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("pramaan.db");
        std::fs::write(&db, b"not a database at all, just text").expect("write");
        let e = sqlite_usage(&db).expect_err("refused");
        assert!(e.to_string().contains("pramaan.db"), "{e}");
    }
}
