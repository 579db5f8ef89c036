//! Durable outbox of signed attestations waiting for the server (design section 5 item 5).
//!
//! One file per attestation, `outbox/<seq, 20 digits>.cose`, holding the exact COSE bytes
//! that were signed: zero-padded names sort in sequence order, so delivery order survives
//! restarts without an index file that could tear. Each file is written with
//! [`fsutil::write_atomic`] (temporary file, fsync, rename, directory fsync), so an entry is
//! either fully there or absent; temporary files left by a crash start with `.` and are
//! ignored and cleaned up. An entry is removed only after the server has answered it for good.

use std::path::{Path, PathBuf};

use crate::fsutil;

/// Subdirectory of the state directory.
pub const OUTBOX_DIR: &str = "outbox";
const SUFFIX: &str = ".cose";

/// Outbox I/O failures.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Reading, writing or listing the outbox directory failed.
    #[error("outbox {path}: {source}")]
    Io {
        /// The outbox directory or entry, as displayed.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// One queued attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The `seq` of the queued attestation (from the file name).
    pub seq: u64,
    /// The file holding its signed COSE bytes.
    pub path: PathBuf,
}

/// The outbox directory of one agent.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// Opens `state_dir/outbox`. Nothing is created until the first [`Outbox::push`]:
    /// opening an agent that never enrolls leaves its state directory as it was.
    pub fn open(state_dir: &Path) -> Result<Self, OutboxError> {
        Ok(Self {
            dir: state_dir.join(OUTBOX_DIR),
        })
    }

    fn io(&self, source: std::io::Error) -> OutboxError {
        OutboxError::Io {
            path: self.dir.display().to_string(),
            source,
        }
    }

    /// Durably adds the signed token for `seq`.
    pub fn push(&self, seq: u64, token: &[u8]) -> Result<Entry, OutboxError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io(e))?;
        let path = self.dir.join(format!("{seq:020}{SUFFIX}"));
        fsutil::write_atomic(&path, token, 0o600).map_err(|e| self.io(e))?;
        Ok(Entry { seq, path })
    }

    /// Entries in delivery (sequence) order. Stray temporary files are removed.
    pub fn list(&self) -> Result<Vec<Entry>, OutboxError> {
        let mut entries = Vec::new();
        let items = match std::fs::read_dir(&self.dir) {
            Ok(items) => items,
            // Nothing was ever queued.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
            Err(e) => return Err(self.io(e)),
        };
        for item in items {
            let item = item.map_err(|e| self.io(e))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                // A temporary file of a write that never finished (its process is gone:
                // the agent serializes its own writes).
                let _ = std::fs::remove_file(item.path());
                continue;
            }
            let Some(seq) = name
                .strip_suffix(SUFFIX)
                .filter(|s| s.len() == 20)
                .and_then(|s| s.parse::<u64>().ok())
            else {
                log::warn!("outbox: ignoring unexpected file {name:?}");
                continue;
            };
            entries.push(Entry {
                seq,
                path: item.path(),
            });
        }
        entries.sort_by_key(|e| e.seq);
        Ok(entries)
    }

    /// Number of queued attestations.
    pub fn len(&self) -> Result<usize, OutboxError> {
        Ok(self.list()?.len())
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        Ok(self.len()? == 0)
    }

    /// The signed COSE bytes of `entry`, exactly as queued.
    pub fn read(&self, entry: &Entry) -> Result<Vec<u8>, OutboxError> {
        std::fs::read(&entry.path).map_err(|e| self.io(e))
    }

    /// Removes a delivered entry (durably).
    pub fn remove(&self, entry: &Entry) -> Result<(), OutboxError> {
        match std::fs::remove_file(&entry.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(e)),
        }
        fsutil::sync_dir(&self.dir).map_err(|e| self.io(e))
    }

    /// Highest queued sequence number.
    pub fn max_seq(&self) -> Result<Option<u64>, OutboxError> {
        Ok(self.list()?.last().map(|e| e.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sequence_order_and_ignores_junk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ob = Outbox::open(dir.path()).expect("open");
        assert_eq!(ob.len().expect("empty before the first push"), 0);
        assert!(
            !dir.path().join(OUTBOX_DIR).exists(),
            "opening creates nothing"
        );
        for seq in [10u64, 2, 33, 1_000_000_000_000] {
            ob.push(seq, &seq.to_be_bytes()).expect("push");
        }
        std::fs::write(
            dir.path().join("outbox/.00000000000000000005.cose.tmp9"),
            b"x",
        )
        .expect("tmp");
        std::fs::write(dir.path().join("outbox/README"), b"x").expect("junk");
        let list = ob.list().expect("list");
        let seqs: Vec<u64> = list.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![2, 10, 33, 1_000_000_000_000]);
        assert_eq!(ob.read(&list[1]).expect("read"), 10u64.to_be_bytes());
        assert!(
            !dir.path()
                .join("outbox/.00000000000000000005.cose.tmp9")
                .exists()
        );
        ob.remove(&list[0]).expect("remove");
        ob.remove(&list[0]).expect("removing twice is fine");
        assert_eq!(ob.len().expect("len"), 3);
        assert_eq!(ob.max_seq().expect("max"), Some(1_000_000_000_000));
    }
}
