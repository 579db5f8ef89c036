//! The PostgreSQL backend (issue 13): several `pramaan serve` instances on one database.
//!
//! SCAFFOLD: only the public surface is here so that the server's plumbing can be built
//! against it; the backend itself lands with the rest of issue 13 (branch p13-pg).

use std::path::Path;
use std::sync::Arc;

use super::{Store, StoreError, Tx};

/// The newest schema version of the PostgreSQL backend's migrations.
pub const SCHEMA_VERSION: u64 = 1;

/// A PostgreSQL database shared by every server instance.
pub struct PostgresStore {
    _private: (),
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

impl PostgresStore {
    /// Connects to `url` (TLS verified against the PEM CA `ca` when given), applies the
    /// missing migrations, and refuses a database of a newer schema.
    pub fn open(url: &str, ca: Option<&Path>) -> Result<Self, StoreError> {
        let _ = (url, ca);
        Err(StoreError::Backend(
            "the PostgreSQL backend is not built yet".into(),
        ))
    }

    /// Starts the group-commit writer thread (as [`super::SqliteStore::start_group_commit`]).
    pub fn start_group_commit(self: &Arc<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `url` with its password replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    url.to_string()
}

impl Store for PostgresStore {
    fn with_tx(
        &self,
        _f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Backend(
            "the PostgreSQL backend is not built yet".into(),
        ))
    }
}
