//! Google's attestation revocation status list as the server holds it.
//!
//! Why a cache: every enrollment and every check-in of an Android phone is judged
//! against the list (a chain containing a listed serial is refused; an expired factory
//! keybox passes only while the list is recent), and parsing ~30 KiB of JSON per
//! attestation would be waste. The list is stored (so it survives restarts and is the
//! same for every reader), parsed once when installed or at start, and shared.

use std::sync::{Arc, RwLock};

use pramaan_core::evidence::{StatusList, StatusListError};
use pramaan_core::policy::StatusListView;

use crate::store::{LogEntry, StatusListRow, Store, StoreError, read_transaction, transaction};

/// A parsed status list and its dates.
#[derive(Debug)]
pub struct LoadedStatusList {
    /// The parsed entries.
    pub list: StatusList,
    /// When the copy was fetched from Google, Unix seconds.
    pub fetched_at: u64,
    /// When it was installed, Unix seconds.
    pub imported_at: u64,
}

impl LoadedStatusList {
    /// The view the evidence rule takes.
    pub fn view(&self) -> StatusListView<'_> {
        StatusListView {
            list: &self.list,
            fetched_at: self.fetched_at,
        }
    }
}

/// Why a status list could not be installed or loaded.
#[derive(Debug, thiserror::Error)]
pub enum StatusListLoadError {
    /// The JSON is not Google's format.
    #[error(transparent)]
    Parse(#[from] StatusListError),
    /// `fetched_at` lies in the future.
    #[error("the list's fetch time is in the future")]
    FromTheFuture,
    /// The list in force was fetched later: installing this one would turn the clock back
    /// on revocations (and make an expired keybox look covered by a list it is not).
    #[error("the list in force was fetched at {installed}, after this one ({offered})")]
    Older {
        /// When the list in force was fetched.
        installed: u64,
        /// When the offered list was fetched.
        offered: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The installed list, shared by every request.
#[derive(Debug, Default)]
pub struct StatusListCache(RwLock<Option<Arc<LoadedStatusList>>>);

impl StatusListCache {
    /// Loads the stored list, if any. A stored list that no longer parses is logged and
    /// ignored (expired keyboxes then fail until a good list is installed).
    pub fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let row = read_transaction(store, |tx| tx.status_list())?;
        let loaded = row.and_then(|r| match StatusList::from_json(&r.json) {
            Ok(list) => Some(Arc::new(LoadedStatusList {
                list,
                fetched_at: r.fetched_at,
                imported_at: r.imported_at,
            })),
            Err(e) => {
                log::warn!(
                    "the stored revocation status list does not parse ({}); ignored",
                    crate::log_text::untrusted(&e.to_string())
                );
                None
            }
        });
        Ok(Self(RwLock::new(loaded)))
    }

    /// The list in force, if one is installed.
    pub fn current(&self) -> Option<Arc<LoadedStatusList>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Parses `json`, stores it, appends a `StatusListInstalled` log entry (the JSON as
    /// installed; `by` is the installer's token label) in the same transaction, and puts
    /// it in force. Nothing changes on error.
    pub fn install(
        &self,
        store: &dyn Store,
        json: &str,
        fetched_at: u64,
        now: u64,
        by: &str,
    ) -> Result<Arc<LoadedStatusList>, StatusListLoadError> {
        if fetched_at > now.saturating_add(300) {
            return Err(StatusListLoadError::FromTheFuture);
        }
        if let Some(current) = self.current()
            && current.fetched_at > fetched_at
        {
            return Err(StatusListLoadError::Older {
                installed: current.fetched_at,
                offered: fetched_at,
            });
        }
        let list = StatusList::from_json(json)?;
        transaction(store, |tx| {
            tx.set_status_list(&StatusListRow {
                json: json.to_string(),
                fetched_at,
                imported_at: now,
            })?;
            tx.append_log(&LogEntry::StatusListInstalled {
                at: now,
                fetched_at,
                json: json.to_string(),
                by: by.to_string(),
            })
        })?;
        let loaded = Arc::new(LoadedStatusList {
            list,
            fetched_at,
            imported_at: now,
        });
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(loaded.clone());
        log::info!(
            "revocation status list installed: {} entries, fetched at {fetched_at}",
            loaded.list.len()
        );
        Ok(loaded)
    }
}
