//! The store conformance suite (`pramaan_testkit::store_conformance`) against the SQLite
//! backend, file-backed in a temporary directory so that read transactions run on the
//! read-only connection and races run on two connections to one database file.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use pramaan_server::store::{SqliteStore, Store};

fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.join("pramaan.db")).expect("open the SQLite store"))
}

pramaan_testkit::store_conformance_tests!(open);
