//! Stateless server nonces: a nonce carries its own expiry and a MAC under the server's
//! nonce key, so issuing one (`GET /v1/challenge`, the `next_nonce` of every answer)
//! writes nothing; only its consumption is recorded ([`crate::store::Tx::use_nonce`]).
//!
//! Why: a stored nonce per challenge made every unauthenticated `GET /v1/challenge` an
//! fsynced insert, so anyone could turn the server's disk into the bottleneck (1,398
//! inserts/s from eight loopback addresses). Now a challenge costs one HMAC, and the
//! nonce table holds only nonces that were used, each until it expires.
//!
//! Layout of the 32 bytes ([`NONCE_LEN`]): `expires` (u64, big-endian, seconds since the
//! Unix epoch) || 8 random bytes || the first 16 bytes of HMAC-SHA256(key, "pramaan nonce
//! v1" || expires || random). The tag is compared in constant time. Checking a nonce
//! ([`NonceKey::open`]) answers the protocol's precise errors: a tag that does not verify
//! is *unknown* (forged, altered, or from another server), a past expiry is *expired*,
//! and a second consumption is *reused* (the store's insert of its hash finds it).
//!
//! Why a key file (`DIR/nonce.key`, 0600) rather than a key in the database: the
//! server's other secrets (`server.key`, `log.key`, `tls/key.pem`) are files of the data
//! directory with the same mode and the same backup story, and a copy of `pramaan.db`
//! (handed to an auditor, or a backup) then never lets anyone mint nonces. Every
//! instance that serves one data directory reads the same file, and the key survives
//! restarts. A data directory made before the file existed gets one on first start
//! (created atomically: two instances starting together end up with the same key).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use pramaan_core::claims::NONCE_LEN;
use ring::hmac;

use crate::auth::random_bytes;

/// Bytes of the expiry at the start of a nonce.
const EXPIRY_LEN: usize = 8;
/// Random bytes after the expiry (distinct nonces within one second).
const RANDOM_LEN: usize = 8;
/// Bytes of the truncated HMAC-SHA256 tag at the end.
const TAG_LEN: usize = NONCE_LEN - EXPIRY_LEN - RANDOM_LEN;
/// Bytes of a nonce key.
pub const KEY_LEN: usize = 32;
/// Domain separation of the MAC input.
const DOMAIN: &[u8] = b"pramaan nonce v1";

/// Errors of issuing, checking or loading nonces and their key.
#[derive(Debug, thiserror::Error)]
pub enum NonceError {
    /// The nonce is not one this server made (wrong length, or its MAC does not verify).
    #[error("the nonce was not issued by this server")]
    Unknown,
    /// The nonce's expiry has passed.
    #[error("the nonce has expired")]
    Expired,
    /// The system's random generator failed.
    #[error("the random generator failed")]
    Rng,
    /// The key file cannot be read or written.
    #[error("nonce key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file exists but does not hold a key.
    #[error("nonce key {path}: expected {KEY_LEN} bytes, found {found}")]
    BadKeyFile {
        /// The file.
        path: String,
        /// How many bytes it holds.
        found: usize,
    },
}

/// Seconds between two prunings of expired nonce uses.
const PRUNE_EVERY: u64 = 60;

/// The key that stamps and checks nonces.
pub struct NonceKey {
    key: hmac::Key,
    /// When the uses of expired nonces were last pruned (seconds since the Unix epoch).
    last_prune: AtomicU64,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// The key of these bytes.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
            last_prune: AtomicU64::new(0),
        }
    }

    /// A new random key (tests, the benchmark's own server state).
    pub fn generate() -> Result<Self, NonceError> {
        Ok(Self::from_bytes(
            &random_bytes::<KEY_LEN>().map_err(|_| NonceError::Rng)?,
        ))
    }

    /// The key in `path`, created (32 random bytes, mode 0600) if the file is absent.
    pub fn load_or_create(path: &Path) -> Result<Self, NonceError> {
        let io = |source| NonceError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => return Self::from_file_bytes(path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let bytes = random_bytes::<KEY_LEN>().map_err(|_| NonceError::Rng)?;
        // Written whole to a temporary file, then linked into place: the link fails if
        // another instance got there first, and then its key is the one read below.
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        pramaan_core::fsutil::write_atomic(&tmp, &bytes, 0o600).map_err(io)?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    pramaan_core::fsutil::sync_dir(dir).map_err(io)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        let stored = std::fs::read(path).map_err(io)?;
        Self::from_file_bytes(path, &stored)
    }

    fn from_file_bytes(path: &Path, bytes: &[u8]) -> Result<Self, NonceError> {
        let key: &[u8; KEY_LEN] = bytes.try_into().map_err(|_| NonceError::BadKeyFile {
            path: path.display().to_string(),
            found: bytes.len(),
        })?;
        Ok(Self::from_bytes(key))
    }

    /// A new nonce valid while `now < now + ttl`; returns it and its expiry.
    pub fn issue(&self, ttl: u64, now: u64) -> Result<(Vec<u8>, u64), NonceError> {
        let expires = now.saturating_add(ttl);
        let random = random_bytes::<RANDOM_LEN>().map_err(|_| NonceError::Rng)?;
        let mut nonce = Vec::with_capacity(NONCE_LEN);
        nonce.extend_from_slice(&expires.to_be_bytes());
        nonce.extend_from_slice(&random);
        let tag = self.tag(&nonce);
        nonce.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        Ok((nonce, expires))
    }

    /// Checks `nonce`'s MAC and expiry at `now`; returns its expiry. Whether it was
    /// already used is the store's to say ([`crate::store::Tx::use_nonce`]).
    pub fn open(&self, nonce: &[u8], now: u64) -> Result<u64, NonceError> {
        if nonce.len() != NONCE_LEN {
            return Err(NonceError::Unknown);
        }
        let (body, tag) = nonce.split_at(EXPIRY_LEN + RANDOM_LEN);
        let expected = self.tag(body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            tag,
            &expected.as_ref()[..TAG_LEN],
        )) {
            return Err(NonceError::Unknown);
        }
        let mut expiry = [0u8; EXPIRY_LEN];
        expiry.copy_from_slice(&body[..EXPIRY_LEN]);
        let expires = u64::from_be_bytes(expiry);
        if now >= expires {
            return Err(NonceError::Expired);
        }
        Ok(expires)
    }

    /// Whether the uses of expired nonces are due to be pruned at `now` (true at most
    /// once per [`PRUNE_EVERY`] seconds, for one caller).
    pub fn prune_due(&self, now: u64) -> bool {
        let last = self.last_prune.load(Ordering::Relaxed);
        now >= last.saturating_add(PRUNE_EVERY)
            && self
                .last_prune
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    fn tag(&self, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(DOMAIN);
        ctx.update(body);
        ctx.sign()
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn issued_nonces_open_until_they_expire_and_differ() {
        let key = NonceKey::generate().expect("key");
        let (a, expires) = key.issue(60, 1_000).expect("issue");
        let (b, _) = key.issue(60, 1_000).expect("issue");
        assert_eq!(a.len(), NONCE_LEN);
        assert_ne!(a, b);
        assert_eq!(expires, 1_060);
        assert_eq!(key.open(&a, 1_000).expect("live"), 1_060);
        assert_eq!(key.open(&a, 1_059).expect("live"), 1_060);
        assert!(matches!(key.open(&a, 1_060), Err(NonceError::Expired)));
    }

    #[test]
    fn altered_foreign_or_misshapen_nonces_are_unknown() {
        let key = NonceKey::generate().expect("key");
        let (nonce, _) = key.issue(60, 1_000).expect("issue");
        // Any flipped bit (a later expiry, other randomness, another tag) is refused.
        for i in 0..NONCE_LEN {
            let mut altered = nonce.clone();
            altered[i] ^= 1;
            assert!(
                matches!(key.open(&altered, 1_000), Err(NonceError::Unknown)),
                "byte {i}"
            );
        }
        let other = NonceKey::generate().expect("key");
        assert!(matches!(
            other.open(&nonce, 1_000),
            Err(NonceError::Unknown)
        ));
        assert!(matches!(
            key.open(&nonce[..31], 1_000),
            Err(NonceError::Unknown)
        ));
        assert!(matches!(
            key.open(&[0; 32], 1_000),
            Err(NonceError::Unknown)
        ));
        // A forged expiry is refused even when the nonce is long expired.
        let mut late = nonce.clone();
        late[..8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(key.open(&late, 5_000), Err(NonceError::Unknown)));
    }

    #[test]
    fn the_key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nonce.key");
        let first = NonceKey::load_or_create(&path).expect("created");
        let (nonce, _) = first.issue(60, 1_000).expect("issue");
        let again = NonceKey::load_or_create(&path).expect("loaded");
        assert_eq!(again.open(&nonce, 1_000).expect("same key"), 1_060);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("nonce.key")]);
        std::fs::write(&path, b"short").expect("write");
        let e = NonceKey::load_or_create(&path).expect_err("bad file");
        assert!(e.to_string().contains("expected 32 bytes, found 5"), "{e}");
    }
}
