//! `pramaan admin backup` and `pramaan admin restore`: one file that holds a consistent
//! copy of a SQLite data directory, and putting it back without losing or forking the log.
//!
//! Why one archive (tar) with a manifest: the database alone is useless without the keys
//! that devices pin and auditors trust (`server.key`, `log.key`, `tls/`), and keys alone
//! are useless without the log they signed; a single file copied off the machine keeps
//! them together. The manifest (`manifest.json`, the archive's first entry) names the
//! format, the pramaan version, when it was made, the schema version, the log's size and
//! root in the copy, the newest stored checkpoint and the SHA-256 and size of every file;
//! the archive's last entry (`manifest.sha256`) is the SHA-256 of the manifest, so it is a
//! checksum over the whole (each file's hash is in the manifest). It guards against damage,
//! not against an attacker, who could rewrite both: what protects the log is that the
//! restored checkpoints must verify under the log key and match the tree, and that a
//! checkpoint the auditors already hold (`--published`) must be in the restored log.
//!
//! Why `VACUUM INTO` and not SQLite's online backup API: the backup API copies page by
//! page and starts again from the first page whenever another connection writes, so under
//! a steady load (a busy server commits many times a second) it may never finish.
//! `VACUUM INTO` reads one snapshot in a single read transaction, which in WAL mode does
//! not block the server's writer, and writes a compact copy. Its progress is shown as the
//! copy's size against the source's size (the copy is at most as large).
//!
//! A PostgreSQL deployment (`database_url`) is refused: its database is backed up with
//! PostgreSQL's own tools (docs/deploy.md section 7), and a copy of the keys without the
//! matching database would restore a server whose log does not match its checkpoints.
//!
//! Restore never destroys data and never writes a half-checked copy: the archive is
//! unpacked into a new directory next to the target (only the names a backup holds, so no
//! path in an archive can point elsewhere), every check runs there, and only then is an
//! existing target moved aside (`DIR.before-restore-<time>`) and the new directory renamed
//! into its place. A running server is detected by its shared lock on `serve.lock`
//! ([`crate::server::ServeLock`]).
//!
//! Restore vs published checkpoints: once a checkpoint of size N is published (to
//! auditors, witnesses), the server must never sign a tree that does not extend it. A
//! backup whose log is smaller than N, or whose first N entries hash to another root,
//! would let it do exactly that (a fork), so it is refused. The newest published
//! checkpoint is read from the directory being replaced and from `--published` files; the
//! largest one that the backup's log extends is stored in the restored database, so the
//! server's own check before signing ([`crate::checkpoints::check_before_signing`]) holds
//! the restored server to it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use pramaan_core::fsutil::sync_dir;
use pramaan_tlog::{Checkpoint, Hash, VerifierKey};
use ring::digest::{Context, SHA256, digest};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::server::{Paths, ServeLock, ServerError};
use crate::store::{CheckpointRow, SqliteStore, StoreError, read_transaction, sqlite, transaction};

/// The archive format this binary writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's name in the archive (its first entry).
pub const MANIFEST: &str = "manifest.json";
/// The last entry: SHA-256 (hex) of the manifest.
pub const MANIFEST_SUM: &str = "manifest.sha256";
/// The database's name in the archive and the data directory.
pub const DATABASE: &str = "pramaan.db";
/// The files copied besides the database; the first ones must be present.
const REQUIRED: [&str; 3] = ["server.key", "tls/cert.pem", "tls/key.pem"];
/// Copied when present (older directories have no `log.key`, `nonce.key` or
/// `tls/ca.key`; `tls/next/` exists while a TLS key change is staged).
const OPTIONAL: [&str; 11] = [
    "log.key",
    "log.vkey",
    "log-keys.json",
    "answer-keys.json",
    "nonce.key",
    "config.toml",
    "tls/ca.pem",
    "tls/ca.key",
    "tls/next/cert.pem",
    "tls/next/key.pem",
    "tls/next/takes_over_at",
];
/// Files of a data directory a backup leaves out: SQLite's side files (the copy is made
/// from the database with its WAL) and the lock of running servers; also everything under
/// [`LEFT_OUT_DIRS`]. Every other file of a
/// data directory must be in [`REQUIRED`] or [`OPTIONAL`] (a test checks it), so a file
/// added to the directory later is not silently left out of backups.
const LEFT_OUT: [&str; 4] = [
    "pramaan.db-wal",
    "pramaan.db-shm",
    "pramaan.db-journal",
    "serve.lock",
];
/// Directories whose files a backup copies whatever their names, with names checked by
/// [`is_key_file_name`]: `answer-keys/` holds the answer keys kept for previous-version
/// phones (`<public key hex>.key`) and the next key during a rotation
/// ([`crate::answer_keys`]); all of them private keys.
const KEY_DIRS: [&str; 1] = ["answer-keys/"];
/// Directories of a data directory a backup leaves out: the TLS keys a key change
/// retired (`tls/retired/`), kept for the operator, never served again.
const LEFT_OUT_DIRS: [&str; 1] = ["tls/retired/"];
/// Files readable by their owner only when restored: private keys, and the database
/// (token hashes, officers' records), as `pramaan admin init` leaves them.
const OWNER_ONLY: [&str; 7] = [
    "server.key",
    "log.key",
    "nonce.key",
    "tls/key.pem",
    "tls/ca.key",
    "tls/next/key.pem",
    DATABASE,
];
/// Largest manifest or key/config file accepted from an archive.
const MAX_SMALL_FILE: u64 = 1 << 20;
/// Largest checkpoint file `--published` reads.
const MAX_CHECKPOINT_FILE: u64 = 64 << 10;
/// Files of a data directory listed at most (for what a backup did not copy).
const MAX_LISTED: usize = 1000;
/// Stored checkpoints read per query while checking a copy.
const CHECKPOINT_PAGE: u64 = 1000;

/// Why a backup could not be made or a restore was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The directory's configuration names a PostgreSQL database.
    #[error(
        "{0} runs on PostgreSQL (database_url): back the database up with pg_dump or \
         pg_basebackup (docs/deploy.md section 7) and copy the data directory's keys, tls/ \
         and config.toml with it; `pramaan admin backup` copies SQLite deployments only"
    )]
    Postgres(String),
    /// The data directory could not be read as a server's (not initialized, bad config).
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The backup file is not a usable backup (unreadable, damaged, tampered): the reason.
    #[error("{file} is not a usable backup: {reason}; nothing was restored")]
    Damaged {
        /// The backup file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A server is running on the target directory.
    #[error("a server is running on {0}: stop it first (nothing was restored)")]
    Live(String),
    /// The backup's log does not extend a checkpoint already published.
    #[error(
        "refusing to restore: {reason}. A checkpoint of {published_size} entries was \
         published ({source_desc}), and this backup's log holds {backup_size}; restoring it \
         would let the server sign a different log of a size it already published (a \
         fork that every auditor holding that checkpoint would detect). Restore a newer \
         backup, taken after that checkpoint; nothing was restored"
    )]
    Published {
        /// Smaller, or a different root at that size.
        reason: String,
        /// The published checkpoint's size.
        published_size: u64,
        /// Where it was found and when it was signed.
        source_desc: String,
        /// The backup's log size.
        backup_size: u64,
    },
    /// A `--published` file, or the replaced directory's checkpoints, cannot be used.
    #[error("{0}; nothing was restored")]
    BadPublished(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The archive's description of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The pramaan version that made it.
    pub pramaan_version: String,
    /// When it was made, Unix seconds.
    pub created_at: u64,
    /// The copied database's schema version.
    pub schema_version: u64,
    /// The audit log's size in the copy.
    pub log_size: u64,
    /// The log's root at that size (hex).
    pub log_root: String,
    /// The newest checkpoint stored in the copy.
    pub checkpoint: Option<ManifestCheckpoint>,
    /// Every file, in archive order (the database first).
    pub files: Vec<FileSum>,
}

/// A stored checkpoint as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// Its root (hex).
    pub root: String,
    /// When it was signed, Unix seconds.
    pub signed_at: u64,
}

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Its path in the data directory (`tls/key.pem`).
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256 of its content (hex).
    pub sha256: String,
}

/// What `pramaan admin backup` wrote.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    /// The archive.
    pub file: PathBuf,
    /// Its length in bytes.
    pub bytes: u64,
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the manifest (hex): the checksum over the whole.
    pub checksum: String,
    /// Files of the data directory that are not a server's and were not copied (the
    /// operator's own, or a newer pramaan's), by path inside it.
    pub not_copied: Vec<String>,
}

/// What `pramaan admin restore` did.
#[derive(Debug, Clone)]
pub struct RestoreSummary {
    /// The restored data directory.
    pub data_dir: PathBuf,
    /// Where the directory that was there has been moved, if one was.
    pub moved_aside: Option<PathBuf>,
    /// The backup's manifest.
    pub manifest: Manifest,
    /// Stored checkpoints checked against the log key and the tree.
    pub checkpoints_checked: u64,
    /// The newest published checkpoint compared with the backup: its size and source.
    pub published: Option<(u64, String)>,
    /// Whether that checkpoint was added to the restored database (it was newer than
    /// any checkpoint the backup held).
    pub published_stored: bool,
}

// ---------------------------------------------------------------------------------------
// backup

/// `pramaan admin backup --data DIR --out FILE`: a consistent copy of DIR's database (also
/// while a server runs on it), its keys, `tls/` and `config.toml`, with a manifest, in one
/// archive written atomically with mode 0600 (it holds private keys). `progress(done,
/// total)` is called with bytes of the database copied.
pub fn backup(
    data_dir: &Path,
    out: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BackupSummary, BackupError> {
    let paths = Paths::new(data_dir);
    let config = Config::load(data_dir).map_err(ServerError::from)?;
    if config.database_url.is_some() {
        return Err(BackupError::Postgres(data_dir.display().to_string()));
    }
    for name in REQUIRED.iter().chain([&DATABASE]) {
        if !paths.dir.join(name).is_file() {
            return Err(
                ServerError::NotInitialized(format!("{} (no {name})", data_dir.display())).into(),
            );
        }
    }
    let out_dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Listed before anything of ours is written (`--out` may be inside DIR).
    let not_copied = files_in(&paths.dir)?
        .into_iter()
        .filter(|f| !is_known(f))
        .collect();
    let work = WorkDir::create(out_dir, ".pramaan-backup")?;
    let copy = work.path.join(DATABASE);
    copy_database(&paths.db(), &copy, progress)?;
    let (schema_version, log_size, log_root, checkpoint) = describe_copy(&copy)?;

    let mut files = vec![(DATABASE.to_string(), copy.clone())];
    for name in REQUIRED.iter().chain(OPTIONAL.iter()) {
        let p = paths.dir.join(name);
        if p.is_file() {
            files.push((name.to_string(), p));
        }
    }
    let mut keys: Vec<String> = files_in(&paths.dir)?
        .into_iter()
        .filter(|f| is_key_file_name(f))
        .collect();
    keys.sort();
    for name in keys {
        let p = paths.dir.join(&name);
        files.push((name, p));
    }
    let mut sums = Vec::with_capacity(files.len());
    for (name, p) in &files {
        let (size, sha256) = hash_file(p)?;
        sums.push(FileSum {
            name: name.clone(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        format: FORMAT_VERSION,
        pramaan_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: pramaan_core::times::now(),
        schema_version,
        log_size,
        log_root: hex::encode(log_root),
        checkpoint: checkpoint.map(|c| ManifestCheckpoint {
            size: c.size,
            root: hex::encode(c.root),
            signed_at: c.signed_at,
        }),
        files: sums,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ServerError::Invalid(format!("manifest: {e}")))?;
    let checksum = hex::encode(digest(&SHA256, &manifest_json));

    let tmp = work.path.join("archive.tar");
    write_archive(&tmp, &manifest, &manifest_json, &checksum, &files)?;
    fs::rename(&tmp, out).map_err(io_err(out))?;
    sync_dir(out_dir).map_err(io_err(out_dir))?;
    let bytes = fs::metadata(out).map_err(io_err(out))?.len();
    Ok(BackupSummary {
        file: out.to_path_buf(),
        bytes,
        manifest,
        checksum,
        not_copied,
    })
}

/// Whether `name` (a path inside a data directory) is one a backup copies or leaves out
/// on purpose.
fn is_known(name: &str) -> bool {
    name == DATABASE
        || REQUIRED.contains(&name)
        || OPTIONAL.contains(&name)
        || LEFT_OUT.contains(&name)
        || LEFT_OUT_DIRS.iter().any(|d| name.starts_with(d))
        || is_key_file_name(name)
}

/// Whether `name` is a file directly under one of [`KEY_DIRS`] named `<letters, digits,
/// '-' or '_'>.key` (no further directory, no `..`): the only names a backup copies or a
/// restore writes there.
fn is_key_file_name(name: &str) -> bool {
    KEY_DIRS.iter().any(|dir| {
        name.strip_prefix(dir)
            .and_then(|file| file.strip_suffix(".key"))
            .is_some_and(|stem| {
                !stem.is_empty()
                    && stem.len() <= 128
                    && stem
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    })
}

/// Every file under `dir` (at most [`MAX_LISTED`]), as paths inside it (`tls/key.pem`).
fn files_in(dir: &Path) -> Result<Vec<String>, BackupError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(io_err(&d))? {
            let p = e.map_err(io_err(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                files.push(rel.to_string_lossy().into_owned());
                if files.len() >= MAX_LISTED {
                    return Ok(files);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `VACUUM INTO` the source's snapshot (see the module doc for why), reporting the copy's
/// growing size against the source's.
fn copy_database(
    source: &Path,
    copy: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(), BackupError> {
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(StoreError::from)?;
    let total: u64 = conn
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(StoreError::from)?;
    let target = copy
        .to_str()
        .ok_or_else(|| ServerError::Invalid(format!("{} is not UTF-8", copy.display())))?;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let now = fs::metadata(copy).map(|m| m.len()).unwrap_or(0);
                progress(now.min(total), total);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let result = conn.execute("VACUUM INTO ?1", [target]);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        result
    })
    .map_err(StoreError::from)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(copy, fs::Permissions::from_mode(0o600)).map_err(io_err(copy))?;
    }
    progress(total, total);
    Ok(())
}

/// The copy's schema version, log size and root, and newest checkpoint; leaves the copy a
/// single file (rollback journal mode, WAL folded in) so the archive holds all of it.
fn describe_copy(copy: &Path) -> Result<(u64, u64, Hash, Option<CheckpointRow>), BackupError> {
    let schema = {
        let conn = Connection::open(copy).map_err(StoreError::from)?;
        sqlite::schema_version(&conn)?
    };
    let (size, root, checkpoint) = {
        let store = SqliteStore::open(copy)?;
        let (size, root) = log_head(&store)?;
        let latest = read_transaction(&store, |tx| tx.latest_checkpoint())?;
        (size, root, latest)
    };
    let conn = Connection::open(copy).map_err(StoreError::from)?;
    let _mode: String = conn
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .map_err(StoreError::from)?;
    Ok((schema, size, root, checkpoint))
}

/// The log's size and root in `store`.
fn log_head(store: &SqliteStore) -> Result<(u64, Hash), StoreError> {
    let size = read_transaction(store, |tx| tx.log().size())?;
    Ok((size, root_at(store, size)?))
}

/// The root of the log's first `size` entries in `store`.
fn root_at(store: &SqliteStore, size: u64) -> Result<Hash, StoreError> {
    read_transaction(store, |tx| {
        pramaan_tlog::root(tx.log(), size).map_err(StoreError::from_log)
    })
}

/// SHA-256 (hex) and length of a file, streamed.
fn hash_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut h = Context::new(&SHA256);
    let n = io::copy(&mut f, &mut HashWriter(&mut h)).map_err(io_err(path))?;
    Ok((n, hex::encode(h.finish())))
}

struct HashWriter<'a>(&'a mut Context);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The archive: manifest, files in manifest order, the manifest's checksum. Mode 0600,
/// fsynced.
fn write_archive(
    tmp: &Path,
    manifest: &Manifest,
    manifest_json: &[u8],
    checksum: &str,
    files: &[(String, PathBuf)],
) -> Result<(), BackupError> {
    let file = open_private(tmp)?;
    let mut tar = tar::Builder::new(io::BufWriter::new(file));
    let header = |size: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o600);
        h.set_mtime(manifest.created_at);
        h.set_entry_type(tar::EntryType::Regular);
        h
    };
    let add = |tar: &mut tar::Builder<_>, name: &str, size: u64, data: &mut dyn Read| {
        let mut h = header(size);
        tar.append_data(&mut h, name, data).map_err(io_err(tmp))
    };
    add(
        &mut tar,
        MANIFEST,
        manifest_json.len() as u64,
        &mut &manifest_json[..],
    )?;
    for ((name, path), sum) in files.iter().zip(&manifest.files) {
        let mut f = File::open(path).map_err(io_err(path))?;
        // Read no more than was hashed, so the archive matches its manifest.
        add(&mut tar, name, sum.size, &mut (&mut f).take(sum.size))?;
    }
    let line = format!("{checksum}\n");
    add(
        &mut tar,
        MANIFEST_SUM,
        line.len() as u64,
        &mut line.as_bytes(),
    )?;
    let w = tar.into_inner().map_err(io_err(tmp))?;
    let file = w.into_inner().map_err(|e| io_err(tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(tmp))
}

fn open_private(path: &Path) -> Result<File, BackupError> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(io_err(path))
}

/// A directory of our own next to a target, removed when dropped unless kept.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create(parent: &Path, prefix: &str) -> Result<Self, BackupError> {
        let path = parent.join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            pramaan_core::times::now()
        ));
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&path).map_err(io_err(&path))?;
        Ok(Self { path, keep: false })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------------
// reading an archive

/// Unpacks the archive read from `r` into the existing empty directory `into`, checking
/// it on the way: the manifest first and of a known format, only the files it lists, each
/// once, in order, of its size and SHA-256, then its checksum, then nothing. Every name is
/// one a backup holds, so nothing is written outside `into`. Any other input, whatever
/// its bytes, is an `Err` naming what is wrong (never a panic). `Err(reason)` leaves
/// `into` with partial content for the caller to remove.
pub fn unpack(r: impl Read, into: &Path) -> Result<Manifest, String> {
    let mut archive = tar::Archive::new(r);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a readable archive ({e})"))?;
    let mut manifest: Option<(Manifest, String)> = None;
    let mut next_file = 0usize;
    let mut finished = false;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the archive is damaged ({e})"))?;
        if finished {
            return Err(format!("data after {MANIFEST_SUM}"));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err("the archive holds something other than plain files".into());
        }
        let name = entry
            .path()
            .map_err(|e| format!("an entry's name is unreadable ({e})"))?
            .to_str()
            .ok_or("an entry's name is not UTF-8")?
            .to_string();
        let size = entry.header().size().map_err(|e| e.to_string())?;
        let Some((m, checksum)) = &manifest else {
            if name != MANIFEST {
                return Err(format!("the first entry is {name:?}, not {MANIFEST}"));
            }
            let bytes = read_small(&mut entry, size, MANIFEST)?;
            let m: Manifest =
                serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST}: {e}"))?;
            if m.format != FORMAT_VERSION {
                return Err(format!(
                    "backup format {} (this pramaan reads format {FORMAT_VERSION}): restore \
                     it with the pramaan version that made it ({:?})",
                    m.format, m.pramaan_version
                ));
            }
            check_file_list(&m)?;
            manifest = Some((m, hex::encode(digest(&SHA256, &bytes))));
            continue;
        };
        if name == MANIFEST_SUM {
            let text = read_small(&mut entry, size, MANIFEST_SUM)?;
            if text.trim_ascii() != checksum.as_bytes() {
                return Err(format!(
                    "{MANIFEST} does not match its checksum (the archive was altered)"
                ));
            }
            if next_file != m.files.len() {
                return Err(format!(
                    "{} is missing from the archive",
                    m.files[next_file].name
                ));
            }
            finished = true;
            continue;
        }
        let Some(expected) = m.files.get(next_file) else {
            return Err(format!("unexpected entry {name:?}"));
        };
        if name != expected.name {
            return Err(format!(
                "entry {name:?} where the manifest lists {:?}",
                expected.name
            ));
        }
        if size != expected.size {
            return Err(format!(
                "{name} is {size} bytes, the manifest says {}",
                expected.size
            ));
        }
        let path = into.join(&name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let mut out = open_private(&path).map_err(|e| e.to_string())?;
        let mut h = Context::new(&SHA256);
        let mut tee = Tee {
            file: &mut out,
            hash: &mut h,
        };
        let n = io::copy(&mut (&mut entry).take(size), &mut tee)
            .map_err(|e| format!("{name}: the archive is damaged ({e})"))?;
        if n != size {
            return Err(format!("{name} is truncated ({n} of {size} bytes)"));
        }
        if hex::encode(h.finish()) != expected.sha256 {
            return Err(format!(
                "{name} does not match its SHA-256 (damaged or altered)"
            ));
        }
        out.sync_all()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        #[cfg(unix)]
        if !OWNER_ONLY.contains(&name.as_str()) && !is_key_file_name(&name) {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o644));
        }
        next_file += 1;
    }
    match manifest {
        None => Err("empty archive (no manifest)".into()),
        Some(_) if !finished => Err(format!(
            "the archive ends before {MANIFEST_SUM} (truncated)"
        )),
        Some((m, _)) => Ok(m),
    }
}

/// The manifest lists the database first, the required files, and only known names, each
/// once.
fn check_file_list(m: &Manifest) -> Result<(), String> {
    if m.files.first().map(|f| f.name.as_str()) != Some(DATABASE) {
        return Err(format!("the manifest does not list {DATABASE} first"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in &m.files {
        let known = f.name == DATABASE
            || REQUIRED.contains(&f.name.as_str())
            || OPTIONAL.contains(&f.name.as_str())
            || is_key_file_name(&f.name);
        if !known {
            return Err(format!("the manifest lists an unknown file {:?}", f.name));
        }
        if !seen.insert(f.name.as_str()) {
            return Err(format!("the manifest lists {} twice", f.name));
        }
        if f.name != DATABASE && f.size > MAX_SMALL_FILE {
            return Err(format!("{} is {} bytes: too large", f.name, f.size));
        }
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !seen.contains(*r)) {
        return Err(format!("the backup has no {missing}"));
    }
    Ok(())
}

fn read_small(r: &mut impl Read, size: u64, what: &str) -> Result<Vec<u8>, String> {
    if size > MAX_SMALL_FILE {
        return Err(format!("{what} is {size} bytes: too large"));
    }
    let mut buf = Vec::new();
    r.take(size)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{what}: the archive is damaged ({e})"))?;
    if buf.len() as u64 != size {
        return Err(format!("{what} is truncated"));
    }
    Ok(buf)
}

struct Tee<'a> {
    file: &'a mut File,
    hash: &'a mut Context,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

// ---------------------------------------------------------------------------------------
// restore

/// A checkpoint published before the restore, and where it was found.
#[derive(Debug, Clone)]
struct Published {
    checkpoint: Checkpoint,
    note: String,
    signed_at: Option<u64>,
    source: String,
}

/// `pramaan admin restore --from FILE --data DIR [--published CHECKPOINT ...]`: checks the
/// backup (see the module doc), refuses a live DIR and a backup older than a published
/// checkpoint, and puts the copy in DIR, moving an existing DIR aside. On any refusal or
/// failure DIR is as it was.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    published_files: &[PathBuf],
) -> Result<RestoreSummary, BackupError> {
    let damaged = |reason: String| BackupError::Damaged {
        file: from.display().to_string(),
        reason,
    };
    let target = Paths::new(data_dir);
    let exists = data_dir.exists();
    let _lock = if exists && data_dir.is_dir() {
        match ServeLock::exclusive(&target)? {
            Some(lock) => Some(lock),
            None => return Err(BackupError::Live(data_dir.display().to_string())),
        }
    } else if exists {
        return Err(ServerError::Invalid(format!(
            "{} exists and is not a directory",
            data_dir.display()
        ))
        .into());
    } else {
        None
    };
    let parent = data_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir_name = data_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| ServerError::Invalid(format!("{} has no name", data_dir.display())))?;
    let mut work = WorkDir::create(parent, &format!(".{dir_name}.restore"))?;

    let file = File::open(from).map_err(io_err(from))?;
    let manifest = unpack(io::BufReader::new(file), &work.path).map_err(damaged)?;
    let staged = Paths::new(&work.path);
    let (vkey, checked) =
        check_copy(&staged, &manifest).map_err(|CopyCheck::Bad(reason)| damaged(reason))?;

    let mut published = Vec::new();
    if exists {
        published.extend(replaced_dir_checkpoint(&target, &vkey)?);
    }
    for f in published_files {
        published.push(published_file(f, &vkey)?);
    }
    let store = SqliteStore::open(&staged.db())?;
    let newest = check_published(&store, &published, manifest.log_size)?;
    let mut stored = false;
    if let Some(p) = newest {
        stored = transaction(&store, |tx| {
            let last = tx.latest_checkpoint()?;
            if last.as_ref().is_some_and(|l| l.size >= p.checkpoint.size) {
                return Ok::<_, StoreError>(false);
            }
            tx.insert_checkpoint(&CheckpointRow {
                size: p.checkpoint.size,
                root: p.checkpoint.root,
                note: p.note.clone(),
                signed_at: p.signed_at.unwrap_or_else(pramaan_core::times::now),
            })?;
            Ok(true)
        })?;
    }
    drop(store);
    sync_dir(&work.path).map_err(io_err(&work.path))?;

    let moved_aside = if exists {
        let aside = parent.join(format!(
            "{dir_name}.before-restore-{}",
            pramaan_core::times::rfc3339(pramaan_core::times::now()).replace(':', "")
        ));
        if aside.exists() {
            return Err(ServerError::Exists(aside.display().to_string()).into());
        }
        fs::rename(data_dir, &aside).map_err(io_err(data_dir))?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = fs::rename(&work.path, data_dir) {
        // Put the old directory back: a failed restore leaves DIR as it was.
        if let Some(aside) = &moved_aside {
            let _ = fs::rename(aside, data_dir);
        }
        return Err(io_err(data_dir)(e));
    }
    work.keep = true;
    sync_dir(parent).map_err(io_err(parent))?;
    Ok(RestoreSummary {
        data_dir: data_dir.to_path_buf(),
        moved_aside,
        published: newest.map(|p| (p.checkpoint.size, p.source.clone())),
        published_stored: stored,
        manifest,
        checkpoints_checked: checked,
    })
}

/// The checkpoint keys of a log: its key in force and, after rotations
/// (`log-keys.json`, [`crate::log_keys`]), every earlier one, for the checkpoints each
/// signed. Whoever made the backup holds its keys anyway: these keys check the copy
/// against damage and tie published checkpoints to its log, not against its maker.
struct LogKeySet(Vec<VerifierKey>);

impl LogKeySet {
    /// The keys of the data directory `paths` whose key in force is `current`.
    fn of(paths: &Paths, current: VerifierKey) -> Result<Self, String> {
        let mut keys = vec![current];
        if let Some(chain) = crate::log_keys::read_chain(paths).map_err(|e| e.to_string())? {
            for text in chain.keys.iter().rev() {
                let key = VerifierKey::parse(text).map_err(|e| format!("log-keys.json: {e}"))?;
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        Ok(Self(keys))
    }

    /// The checkpoint of `note` if one of the keys signed it (else the error of the key
    /// in force).
    fn verify(&self, note: &str) -> Result<Checkpoint, pramaan_tlog::NoteError> {
        let (current, earlier) = self
            .0
            .split_first()
            .ok_or(pramaan_tlog::NoteError::Malformed(
                "no log key to verify it with",
            ))?;
        current.verify_checkpoint(note).or_else(|e| {
            earlier
                .iter()
                .find_map(|key| key.verify_checkpoint(note).ok())
                .ok_or(e)
        })
    }
}

/// Why a staged copy failed its checks (a store error reading it counts: the copy is bad).
enum CopyCheck {
    Bad(String),
}

impl From<StoreError> for CopyCheck {
    fn from(e: StoreError) -> Self {
        CopyCheck::Bad(format!("its database: {e}"))
    }
}

/// The checks of an unpacked copy: the database passes `PRAGMA integrity_check` and is
/// not newer than this binary, `log.vkey` is the log key's, the log's size and root are
/// the manifest's, and every stored checkpoint verifies under the log key with the tree's
/// root at its size. Returns the log's verifier key and the checkpoints checked.
fn check_copy(staged: &Paths, m: &Manifest) -> Result<(LogKeySet, u64), CopyCheck> {
    let bad = |s: String| CopyCheck::Bad(s);
    {
        let conn = Connection::open_with_flags(staged.db(), OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(StoreError::from)?;
        let verdict: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(StoreError::from)?;
        if verdict != "ok" {
            return Err(bad(format!(
                "its database fails the integrity check: {verdict}"
            )));
        }
        let found = sqlite::schema_version(&conn)?;
        if found > sqlite::SCHEMA_VERSION {
            return Err(bad(format!(
                "its database has schema version {found}, newer than the {} this pramaan \
                 knows: restore it with the pramaan version that made it ({:?})",
                sqlite::SCHEMA_VERSION,
                m.pramaan_version
            )));
        }
        if found != m.schema_version {
            return Err(bad(format!(
                "its database has schema version {found}, the manifest says {}",
                m.schema_version
            )));
        }
    }
    let config = Config::load(&staged.dir).map_err(|e| bad(format!("config.toml: {e}")))?;
    let signer = crate::server::load_log_signer(staged, &config)
        .map_err(|e| bad(format!("its log key: {e}")))?;
    let vkey =
        VerifierKey::parse(&signer.verifier_key()).map_err(|e| bad(format!("its log key: {e}")))?;
    let vkey = LogKeySet::of(staged, vkey).map_err(|e| bad(format!("its log keys: {e}")))?;
    let store = SqliteStore::open(&staged.db())?;
    let (size, root) = log_head(&store)?;
    if size != m.log_size || hex::encode(root) != m.log_root {
        return Err(bad(format!(
            "its log has {size} entries, the manifest says {} (or another root)",
            m.log_size
        )));
    }
    let mut from = 0u64;
    let mut checked = 0u64;
    let mut latest: Option<CheckpointRow> = None;
    loop {
        let page = read_transaction(&store, |tx| tx.checkpoints(from, CHECKPOINT_PAGE))?;
        let full = page.len() as u64 == CHECKPOINT_PAGE;
        let last_size = page.last().map(|r| r.size);
        for row in &page {
            // A full page may end inside a run of rows of one size: those are read again
            // with the next page.
            if full && Some(row.size) == last_size && page.iter().any(|r| r.size != row.size) {
                break;
            }
            check_stored_checkpoint(&store, &vkey, row, size)?;
            checked += 1;
            if latest.as_ref().is_none_or(|l| row.size >= l.size) {
                latest = Some(row.clone());
            }
        }
        match (full, last_size) {
            (true, Some(s)) if page.iter().any(|r| r.size != s) => from = s,
            (true, Some(s)) => from = s.saturating_add(1),
            _ => break,
        }
    }
    let described = latest.map(|c| ManifestCheckpoint {
        size: c.size,
        root: hex::encode(c.root),
        signed_at: c.signed_at,
    });
    if described.as_ref().map(|c| (c.size, &c.root))
        != m.checkpoint.as_ref().map(|c| (c.size, &c.root))
    {
        return Err(bad(
            "its newest stored checkpoint is not the one the manifest names".into(),
        ));
    }
    Ok((vkey, checked))
}

fn check_stored_checkpoint(
    store: &SqliteStore,
    vkey: &LogKeySet,
    row: &CheckpointRow,
    log_size: u64,
) -> Result<(), CopyCheck> {
    let bad = |s: String| CopyCheck::Bad(s);
    let cp = vkey.verify(&row.note).map_err(|e| {
        bad(format!(
            "its stored checkpoint of size {} does not verify with its log key: {e}",
            row.size
        ))
    })?;
    if cp.size != row.size || cp.root != row.root {
        return Err(bad(format!(
            "its stored checkpoint of size {} says size {} and another root",
            row.size, cp.size
        )));
    }
    if row.size > log_size {
        return Err(bad(format!(
            "its stored checkpoint of size {} is larger than its log ({log_size} entries)",
            row.size
        )));
    }
    let root = root_at(store, row.size)?;
    if root != row.root {
        return Err(bad(format!(
            "its stored checkpoint of size {} does not match its tree (the log's root at \
             that size differs)",
            row.size
        )));
    }
    Ok(())
}

/// The newest checkpoint stored in the directory being replaced, if its database opens
/// (read only; a warning otherwise). It must be of the backup's log: another deployment's
/// directory is refused (restore into a new directory instead).
fn replaced_dir_checkpoint(
    target: &Paths,
    vkey: &LogKeySet,
) -> Result<Option<Published>, BackupError> {
    if !target.db().exists() {
        return Ok(None);
    }
    let row = (|| {
        let conn = Connection::open_with_flags(target.db(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.query_row(
            "SELECT size, root, note, signed_at FROM checkpoints \
             ORDER BY size DESC, id DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
    })();
    let (_, _, note, signed_at) = match row {
        Ok(row) => row,
        Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(None),
        Err(e) => {
            // The path and SQLite's message may carry any bytes: escaped.
            log::warn!(
                "cannot read the checkpoints of {}: pass the newest published checkpoint \
                 with --published",
                crate::log_text::untrusted(&format!("{} ({e})", target.db().display()))
            );
            return Ok(None);
        }
    };
    let checkpoint = vkey.verify(&note).map_err(|e| {
        BackupError::BadPublished(format!(
            "{} holds a checkpoint that the backup's log key does not verify ({e}): it is \
             another log (another deployment, or a different log key); restore into a new \
             directory, or move {} away first",
            target.dir.display(),
            target.dir.display()
        ))
    })?;
    Ok(Some(Published {
        checkpoint,
        note,
        signed_at: u64::try_from(signed_at).ok(),
        source: format!(
            "stored in {} and signed at {}",
            target.dir.display(),
            pramaan_core::times::rfc3339(u64::try_from(signed_at).unwrap_or(0))
        ),
    }))
}

/// A `--published` checkpoint file, verified with the backup's log key.
fn published_file(path: &Path, vkey: &LogKeySet) -> Result<Published, BackupError> {
    let f = File::open(path).map_err(io_err(path))?;
    let mut note = String::new();
    f.take(MAX_CHECKPOINT_FILE)
        .read_to_string(&mut note)
        .map_err(io_err(path))?;
    let checkpoint = vkey.verify(&note).map_err(|e| {
        BackupError::BadPublished(format!(
            "--published {}: not a checkpoint of this backup's log, or signed by a log key \
             rotated after the backup was made ({e})",
            path.display()
        ))
    })?;
    Ok(Published {
        checkpoint,
        note,
        signed_at: None,
        source: format!("in the file {}", path.display()),
    })
}

/// Every published checkpoint must be in the backup's log (its size at most the log's,
/// the tree's root at its size its root); returns the newest.
fn check_published<'a>(
    store: &SqliteStore,
    published: &'a [Published],
    log_size: u64,
) -> Result<Option<&'a Published>, BackupError> {
    let mut newest: Option<&Published> = None;
    for p in published {
        let size = p.checkpoint.size;
        let refuse = |reason: String| BackupError::Published {
            reason,
            published_size: size,
            source_desc: p.source.clone(),
            backup_size: log_size,
        };
        if size > log_size {
            return Err(refuse(format!(
                "the backup is older than a published checkpoint ({log_size} < {size} entries)"
            )));
        }
        let root = root_at(store, size)?;
        if root != p.checkpoint.root {
            return Err(refuse(format!(
                "the backup's log of {log_size} entries has another root at {size} entries \
                 than the published checkpoint"
            )));
        }
        if newest.is_none_or(|n| size > n.checkpoint.size) {
            newest = Some(p);
        }
    }
    Ok(newest)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A server's shared lock keeps a restore out, several servers share the directory,
    /// and a restore's exclusive lock keeps a server from starting.
    #[test]
    fn only_plain_key_file_names_under_the_key_directories_are_copied() {
        for ok in [
            "answer-keys/next.key",
            "answer-keys/0a1b2c.key",
            "answer-keys/a_b-c.key",
        ] {
            assert!(is_key_file_name(ok), "{ok}");
        }
        for bad in [
            "answer-keys/.key",
            "answer-keys/../server.key",
            "answer-keys/x/y.key",
            "answer-keys/x.pem",
            "answer-keys/x y.key",
            "other/x.key",
            "answer-keys.json",
        ] {
            assert!(!is_key_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_serve_lock_keeps_servers_and_restores_apart() {
        let dir = tempfile::tempdir().expect("dir");
        let paths = Paths::new(dir.path());
        let first = ServeLock::shared(&paths).expect("a server");
        let second = ServeLock::shared(&paths).expect("another instance");
        assert!(ServeLock::exclusive(&paths).expect("lock").is_none());
        drop(first);
        assert!(ServeLock::exclusive(&paths).expect("lock").is_none());
        drop(second);
        let restoring = ServeLock::exclusive(&paths)
            .expect("lock")
            .expect("no server runs");
        let refused = ServeLock::shared(&paths).expect_err("a restore runs");
        assert!(
            refused.to_string().contains("is being restored"),
            "{refused}"
        );
        drop(restoring);
        ServeLock::shared(&paths).expect("restore finished");
    }

    /// Every file a server's data directory holds after `admin init` and a run is backed up
    /// or deliberately left out: a new file must be added to one list or the other.
    #[test]
    fn every_file_of_a_data_directory_is_backed_up_or_left_out_on_purpose() {
        let dir = tempfile::tempdir().expect("dir");
        crate::server::admin_init(dir.path(), "localhost").expect("init");
        let running =
            crate::server::start(dir.path(), "127.0.0.1:0".parse().expect("addr")).expect("up");
        let files = files_in(dir.path()).expect("list");
        running.shutdown();
        assert!(files.iter().any(|f| f == "serve.lock"), "{files:?}");
        for f in &files {
            assert!(
                is_known(f),
                "{f} is new in a data directory: add it to OPTIONAL (backed up) or \
                 LEFT_OUT in server/src/backup.rs"
            );
        }
    }

    /// What a restore unpacks must be what the manifest lists, in order, and nothing else.
    #[test]
    fn a_manifest_naming_unknown_or_missing_files_is_refused() {
        let sum = |name: &str| FileSum {
            name: name.into(),
            size: 1,
            sha256: String::new(),
        };
        let mut m = Manifest {
            format: FORMAT_VERSION,
            pramaan_version: "0".into(),
            created_at: 0,
            schema_version: 0,
            log_size: 0,
            log_root: String::new(),
            checkpoint: None,
            files: [DATABASE, "server.key", "tls/cert.pem", "tls/key.pem"]
                .into_iter()
                .map(sum)
                .collect(),
        };
        check_file_list(&m).expect("a complete list");
        m.files.push(sum("../../etc/passwd"));
        assert!(
            check_file_list(&m)
                .expect_err("unknown")
                .contains("unknown file")
        );
        m.files.pop();
        m.files.push(sum("server.key"));
        assert!(check_file_list(&m).expect_err("twice").contains("twice"));
        m.files.pop();
        m.files.remove(1);
        assert!(
            check_file_list(&m)
                .expect_err("missing")
                .contains("no server.key")
        );
        m.files.swap(0, 1);
        assert!(check_file_list(&m).expect_err("order").contains("first"));
    }
}
