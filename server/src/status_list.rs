//! Google's attestation revocation status list as the server holds it.
//!
//! Why a cache: every enrollment and every check-in of an Android phone is judged
//! against the list (a chain containing a listed serial is refused; an expired factory
//! keybox passes only while the list is recent), and parsing ~30 KiB of JSON per
//! attestation would be waste. The list is stored (so it survives restarts and is the
//! same for every reader), parsed once when installed or at start, and shared.
//!
//! Several server instances on one PostgreSQL database each hold their own copy, so a
//! list installed through one must reach the others without a restart: [`follow`] checks
//! the stored row's dates every [`FOLLOW_INTERVAL`] and parses it again only when they
//! changed (a list in force at most that long after its installation anywhere). Whether
//! an offered list is older than the one in force is decided against the stored row, in
//! the installing transaction, not against this instance's copy.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

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

/// How often [`follow`] looks for a list installed through another instance.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);

/// The installed list, shared by every request.
#[derive(Debug, Default)]
pub struct StatusListCache {
    current: RwLock<Option<Arc<LoadedStatusList>>>,
    /// `(fetched_at, imported_at)` of the stored row last read, parsed or not (a row that
    /// does not parse is warned about once, not every [`FOLLOW_INTERVAL`]).
    seen: RwLock<Option<(u64, u64)>>,
}

impl StatusListCache {
    /// Loads the stored list, if any. A stored list that no longer parses is logged and
    /// ignored (expired keyboxes then fail until a good list is installed).
    pub fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let cache = Self::default();
        cache.refresh(store)?;
        Ok(cache)
    }

    /// The list in force, if one is installed.
    pub fn current(&self) -> Option<Arc<LoadedStatusList>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the stored row and puts it in force if its dates differ from the row last
    /// seen (another instance installed a list); `true` if the list in force changed.
    pub fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let Some(row) = read_transaction(store, |tx| tx.status_list())? else {
            return Ok(false);
        };
        let stamp = (row.fetched_at, row.imported_at);
        if *self.seen.read().unwrap_or_else(|p| p.into_inner()) == Some(stamp) {
            return Ok(false);
        }
        *self.seen.write().unwrap_or_else(|p| p.into_inner()) = Some(stamp);
        match StatusList::from_json(&row.json) {
            Ok(list) => {
                self.put(Arc::new(LoadedStatusList {
                    list,
                    fetched_at: row.fetched_at,
                    imported_at: row.imported_at,
                }));
                Ok(true)
            }
            Err(e) => {
                log::warn!(
                    "the stored revocation status list does not parse ({}); ignored",
                    crate::log_text::untrusted(&e.to_string())
                );
                Ok(false)
            }
        }
    }

    /// Puts `loaded` in force unless the list in force is newer (a refresh that read the
    /// row just before this instance installed a newer one must not turn it back).
    fn put(&self, loaded: Arc<LoadedStatusList>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let stamp = |l: &LoadedStatusList| (l.fetched_at, l.imported_at);
        if current
            .as_deref()
            .is_none_or(|c| stamp(c) <= stamp(&loaded))
        {
            *current = Some(loaded);
        }
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
        let list = StatusList::from_json(json)?;
        transaction(store, |tx| {
            // The stored row, not this instance's copy: another instance may have
            // installed a newer list a moment ago.
            if let Some(stored) = tx.status_list()?
                && stored.fetched_at > fetched_at
            {
                return Err(StatusListLoadError::Older {
                    installed: stored.fetched_at,
                    offered: fetched_at,
                });
            }
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
            })?;
            Ok(())
        })?;
        let loaded = Arc::new(LoadedStatusList {
            list,
            fetched_at,
            imported_at: now,
        });
        *self.seen.write().unwrap_or_else(|p| p.into_inner()) = Some((fetched_at, now));
        self.put(loaded.clone());
        log::info!(
            "revocation status list installed: {} entries, fetched at {fetched_at}",
            loaded.list.len()
        );
        Ok(loaded)
    }
}

/// Keeps `shared`'s status list in step with the store: a thread that calls
/// [`StatusListCache::refresh`] every [`FOLLOW_INTERVAL`] until the server's state is
/// dropped. A store failure is logged and retried at the next interval (the list in
/// force stays).
pub fn follow(shared: Weak<crate::api::Shared>) {
    crate::api::follow_every("status list", FOLLOW_INTERVAL, shared, |state| {
        match state.status_list.refresh(state.store.as_ref()) {
            Ok(true) => {
                let fetched_at = state.status_list.current().map_or(0, |l| l.fetched_at);
                log::info!(
                    "a revocation status list installed through another instance is in \
                     force (fetched at {fetched_at})"
                );
            }
            Ok(false) => {}
            // A store error may quote a stored value.
            Err(e) => log::warn!(
                "checking the stored revocation status list: {}",
                crate::log_text::untrusted(&e.to_string())
            ),
        }
    });
}
