//! Renewing the server's TLS certificate, changing its key, and serving whichever is in
//! force without a restart (`pramaan admin renew-cert`, design section 9).
//!
//! Why two ways: devices pin the SHA-256 of the certificate's public key, not the
//! certificate. Renewing with the same key (`tls/key.pem`) gives a later notAfter and the
//! same pin, so phones need nothing. A new key (a leaked key, a policy) changes the pin:
//! it is staged in `tls/next/` with the time it takes over, and until then the server
//! keeps serving the current certificate while every signed answer to a device (Receipt,
//! AttestResult: `next_pin`) names the next pin, so a phone that checks in during the
//! transition trusts both and moves to the new one when it first meets it. A phone that
//! did not check in meets an unknown key and must be enrolled again (its agent says so).
//!
//! Why a resolver that looks at the files: every instance on a copy of the data directory
//! (and the one `renew-cert` ran beside) must pick the new certificate up without a
//! restart. [`CertResolver`] checks the files' modification times at most every
//! [`RELOAD_INTERVAL`] (a few `stat` calls), reloads only when they changed, and decides
//! current or next per handshake from the clock (one comparison), so no handshake is
//! slower than before. A file that fails to load (half-way through a takeover's renames)
//! leaves the loaded certificate in service and is tried again at the next check.
//!
//! The takeover moves the files (`tls/next/*` to `tls/`, the replaced ones to
//! `tls/retired/<unix time>/`, kept, never deleted) at the next `serve` start or
//! `renew-cert` after the takeover time ([`finish_takeover`]); until then the resolver
//! serves `tls/next/` from the takeover time on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use pramaan_core::claims::NextPin;
use pramaan_core::fsutil::write_atomic;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::server::Paths;
use crate::tls::{self, LocalCa, TlsError};

/// How often the resolver looks at the certificate files for a change.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// From how long before its expiry a certificate is warned about (dashboard, `serve`'s
/// log), in days.
pub const EXPIRY_WARNING_DAYS: u64 = 60;

/// The shortest transition `renew-cert --new-key` accepts, in days: longer than a phone
/// may go without checking in (a week's leave), so phones in use learn the next pin.
pub const MIN_TRANSITION_DAYS: u64 = 14;

const DAY: u64 = 86_400;

/// Why a renewal or a key change failed; nothing was changed unless said.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Making, reading or serving a certificate failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A file of `tls/` could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// `config.toml` is invalid (its `host` names the certificate).
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The directory holds no TLS key (not an initialized data directory).
    #[error("{0} has no TLS key: run `pramaan admin init --data DIR` first")]
    NotInitialized(String),
    /// A key change is staged already; holds when it takes over.
    #[error(
        "a key change is already staged (tls/next/, takes over at {0} Unix time): wait for \
         it to take over, or remove tls/next/ to cancel it before any device learnt it"
    )]
    AlreadyStaged(u64),
    /// A bad argument (days, transition) or a malformed staged file; says why.
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CertError + '_ {
    move |source| CertError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn now() -> u64 {
    crate::api::now()
}

/// What [`renew`] did.
#[derive(Debug, Clone)]
pub struct Renewed {
    /// The pin (unchanged: the key is the same).
    pub pin: [u8; 32],
    /// The new certificate's notAfter, Unix seconds.
    pub not_after: u64,
    /// The replaced certificate's notAfter.
    pub previous_not_after: u64,
    /// Whether a new local CA was made (the directory kept no CA key): clients trusting
    /// `--ca tls/ca.pem` need the new file.
    pub new_ca: bool,
}

/// What [`stage_new_key`] did.
#[derive(Debug, Clone)]
pub struct StagedKey {
    /// The new key's pin (what `--pin`, `PRAMAAN_PIN` and new QR codes carry from
    /// `takes_over_at` on).
    pub pin: [u8; 32],
    /// When the server starts serving it, Unix seconds.
    pub takes_over_at: u64,
    /// Its certificate's notAfter.
    pub not_after: u64,
    /// Whether a new local CA was made (see [`Renewed::new_ca`]).
    pub new_ca: bool,
}

/// `pramaan admin renew-cert --data DIR [--days N]`: re-issues `tls/cert.pem` for the
/// same key (`tls/key.pem`), valid `days` days, under the kept CA (a new CA when the
/// directory kept none). Written atomically; running servers pick it up within
/// [`RELOAD_INTERVAL`]. A key change whose time has come is finished first.
pub fn renew(paths: &Paths, days: u32) -> Result<Renewed, CertError> {
    check_days(days)?;
    finish_takeover(paths, now())?;
    let host = crate::config::Config::load(&paths.dir)?.host;
    let key = read_key(&paths.tls_key())?;
    let old_chain = std::fs::read(paths.cert()).map_err(io_err(&paths.cert()))?;
    let previous_pin = tls::pin_of_chain(&old_chain, &paths.cert())?;
    let previous_not_after = tls::not_after_of_chain(&old_chain, &paths.cert())?;
    let (ca, new_ca) = local_ca(paths, &host, days)?;
    let leaf = ca.issue(&host, &key, days)?;
    if leaf.pin != previous_pin {
        return Err(CertError::Invalid(format!(
            "{} is not the key of {}: restore the matching pair before renewing",
            paths.tls_key().display(),
            paths.cert().display()
        )));
    }
    if new_ca {
        // A staged key's certificate moves under the new CA too.
        if staged_takeover(paths)?.is_some() {
            reissue(&ca, &host, &paths.next_tls_key(), &paths.next_cert(), days)?;
        }
        save_ca(paths, &ca)?;
    }
    write_atomic(&paths.cert(), leaf.chain_pem.as_bytes(), 0o644).map_err(io_err(&paths.cert()))?;
    log::info!(
        "renewed the TLS certificate of {} (same key), valid until {}",
        paths.dir.display(),
        leaf.not_after
    );
    Ok(Renewed {
        pin: leaf.pin,
        not_after: leaf.not_after,
        previous_not_after,
        new_ca,
    })
}

/// `pramaan admin renew-cert --new-key --transition T`: stages a new key and certificate
/// in `tls/next/`, served from `takes_over_at` (Unix seconds; the command refuses a
/// transition shorter than [`MIN_TRANSITION_DAYS`], tests set it near now). Refused while
/// another change is staged. `takes_over_at` is written last: a half-staged directory is
/// no staged key.
pub fn stage_new_key(paths: &Paths, takes_over_at: u64, days: u32) -> Result<StagedKey, CertError> {
    check_days(days)?;
    finish_takeover(paths, now())?;
    if let Some(at) = staged_takeover(paths)? {
        return Err(CertError::AlreadyStaged(at));
    }
    if !paths.tls_key().exists() {
        return Err(CertError::NotInitialized(paths.dir.display().to_string()));
    }
    let host = crate::config::Config::load(&paths.dir)?.host;
    let (ca, new_ca) = local_ca(paths, &host, days)?;
    if new_ca {
        // The current certificate moves under the new CA too, so `tls/ca.pem` is the CA
        // of both.
        reissue(&ca, &host, &paths.tls_key(), &paths.cert(), days)?;
        save_ca(paths, &ca)?;
    }
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(TlsError::from)?;
    let leaf = ca.issue(&host, &key, days)?;
    let dir = paths.tls_next_dir();
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    write_atomic(&paths.next_tls_key(), key.serialize_pem().as_bytes(), 0o600)
        .map_err(io_err(&paths.next_tls_key()))?;
    write_atomic(&paths.next_cert(), leaf.chain_pem.as_bytes(), 0o644)
        .map_err(io_err(&paths.next_cert()))?;
    write_atomic(
        &paths.next_takeover(),
        format!("{takes_over_at}\n").as_bytes(),
        0o644,
    )
    .map_err(io_err(&paths.next_takeover()))?;
    log::info!(
        "staged a new TLS key for {}: pin {}, takes over at {takes_over_at}",
        paths.dir.display(),
        pramaan_core::encoding::b64url(&leaf.pin)
    );
    Ok(StagedKey {
        pin: leaf.pin,
        takes_over_at,
        not_after: leaf.not_after,
        new_ca,
    })
}

/// Parses a transition such as `30d`, `12h`, `90m` or `45s` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, CertError> {
    let text = text.trim();
    let bad = || {
        CertError::Invalid(format!(
            "transition {text:?} is not a duration such as 30d, 12h or 90m"
        ))
    };
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "d" => DAY,
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).ok_or_else(bad)
}

/// Refuses a transition shorter than [`MIN_TRANSITION_DAYS`], saying what it would mean.
pub fn check_transition(secs: u64) -> Result<(), CertError> {
    if secs < MIN_TRANSITION_DAYS * DAY {
        return Err(CertError::Invalid(format!(
            "a transition of {secs} s is shorter than {MIN_TRANSITION_DAYS} days: a phone \
             that does not check in during it (leave, switched off) cannot learn the new \
             key and must be enrolled again with a new QR code; give at least \
             --transition {MIN_TRANSITION_DAYS}d"
        )));
    }
    Ok(())
}

fn check_days(days: u32) -> Result<(), CertError> {
    if !(1..=tls::LEAF_DAYS).contains(&days) {
        return Err(CertError::Invalid(format!(
            "--days {days}: a certificate is valid 1 to {} days",
            tls::LEAF_DAYS
        )));
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, CertError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CertError::NotInitialized(
            path.parent()
                .and_then(Path::parent)
                .unwrap_or(path)
                .display()
                .to_string(),
        )),
        Err(source) => Err(CertError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The kept CA (`tls/ca.pem` + `tls/ca.key`), or a new one (`true`) when the directory
/// kept no key or the kept CA cannot issue (expiring, not matching: logged).
fn local_ca(paths: &Paths, host: &str, days: u32) -> Result<(LocalCa, bool), CertError> {
    if paths.ca_key().exists() {
        let key = read_text(&paths.ca_key())?;
        let pem = std::fs::read(paths.ca()).map_err(io_err(&paths.ca()))?;
        match LocalCa::load(&pem, &key, &paths.ca(), days) {
            Ok(ca) => return Ok((ca, false)),
            Err(e) => log::warn!("the kept local CA cannot issue ({e}): making a new one"),
        }
    }
    Ok((LocalCa::generate(host)?, true))
}

fn save_ca(paths: &Paths, ca: &LocalCa) -> Result<(), CertError> {
    write_atomic(&paths.ca_key(), ca.key_pem().as_bytes(), 0o600)
        .map_err(io_err(&paths.ca_key()))?;
    write_atomic(&paths.ca(), ca.cert_pem.as_bytes(), 0o644).map_err(io_err(&paths.ca()))
}

fn read_key(path: &Path) -> Result<KeyPair, CertError> {
    let pem = read_text(path)?;
    KeyPair::from_pem(&pem).map_err(|e| {
        CertError::Tls(TlsError::Pem {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    })
}

/// Issues a certificate for the key in `key_path` under `ca` and writes it to `cert_path`.
fn reissue(
    ca: &LocalCa,
    host: &str,
    key_path: &Path,
    cert_path: &Path,
    days: u32,
) -> Result<(), CertError> {
    let leaf = ca.issue(host, &read_key(key_path)?, days)?;
    write_atomic(cert_path, leaf.chain_pem.as_bytes(), 0o644).map_err(io_err(cert_path))
}

/// When the staged key takes over (`tls/next/takes_over_at`), if one is staged.
pub fn staged_takeover(paths: &Paths) -> Result<Option<u64>, CertError> {
    let path = paths.next_takeover();
    let bytes = pramaan_core::fsutil::read_if_exists(&path).map_err(|source| CertError::Io {
        path: path.display().to_string(),
        source,
    })?;
    bytes
        .map(|bytes| {
            String::from_utf8_lossy(&bytes).trim().parse().map_err(|_| {
                CertError::Invalid(format!(
                    "{} does not hold a Unix time; remove tls/next/ and stage the key again",
                    path.display()
                ))
            })
        })
        .transpose()
}

/// Moves a staged key whose time has come into `tls/` (the replaced certificate and key
/// to `tls/retired/<now>/`, kept); returns that directory, or `None` when nothing was due.
pub fn finish_takeover(paths: &Paths, now: u64) -> Result<Option<PathBuf>, CertError> {
    match staged_takeover(paths)? {
        Some(at) if at <= now => {}
        _ => return Ok(None),
    }
    // Both staged files must load as a pair before anything moves.
    load_served(&paths.next_cert(), &paths.next_tls_key())?;
    let retired = paths.tls_retired_dir().join(now.to_string());
    std::fs::create_dir_all(&retired).map_err(io_err(&retired))?;
    let moves = [
        (paths.cert(), retired.join("cert.pem")),
        (paths.tls_key(), retired.join("key.pem")),
        (paths.next_tls_key(), paths.tls_key()),
        (paths.next_cert(), paths.cert()),
    ];
    for (from, to) in moves {
        std::fs::rename(&from, &to).map_err(io_err(&from))?;
    }
    std::fs::remove_file(paths.next_takeover()).map_err(io_err(&paths.next_takeover()))?;
    let _ = std::fs::remove_dir(paths.tls_next_dir());
    log::info!(
        "the staged TLS key took over; the replaced certificate and key are kept in {}",
        retired.display()
    );
    Ok(Some(retired))
}

/// A certificate the server can serve, with what is shown about it.
#[derive(Clone)]
struct Served {
    key: Arc<CertifiedKey>,
    pin: [u8; 32],
    not_after: u64,
}

fn load_served(cert: &Path, key: &Path) -> Result<Served, CertError> {
    let cert_pem = std::fs::read(cert).map_err(io_err(cert))?;
    let key_pem = std::fs::read(key).map_err(io_err(key))?;
    let chain = tls::read_chain(&cert_pem, cert)?;
    let pin = tls::pin_of_chain(&cert_pem, cert)?;
    let not_after = tls::not_after_of_chain(&cert_pem, cert)?;
    let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        path: key.display().to_string(),
        reason: format!("private key: {e}"),
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der).map_err(TlsError::from)?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| TlsError::Pem {
        path: key.display().to_string(),
        reason: format!("not the key of {}: {e}", cert.display()),
    })?;
    Ok(Served {
        key: Arc::new(certified),
        pin,
        not_after,
    })
}

/// Modification time and length of each file the resolver serves from.
type Stamp = Vec<Option<(SystemTime, u64)>>;

struct Loaded {
    checked: Instant,
    stamp: Stamp,
    current: Served,
    next: Option<(Served, u64)>,
    /// The day (Unix days) the expiry warning was last logged.
    warned_day: u64,
}

/// Serves `tls/cert.pem`, or `tls/next/` from its takeover time, reloading when the files
/// change (see the module doc).
pub struct CertResolver {
    paths: Paths,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertResolver")
            .field("dir", &self.paths.tls_dir())
            .finish_non_exhaustive()
    }
}

/// The certificate in force and the staged one, as `/metrics` and the dashboard show them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsStatus {
    /// The pin served now, base64url.
    pub pin: String,
    /// The served certificate's notAfter, Unix seconds.
    pub not_after: u64,
    /// Whole days until then (negative once expired).
    pub days_left: i64,
    /// Set from [`EXPIRY_WARNING_DAYS`] before the expiry: what to do.
    pub warning: Option<String>,
    /// A staged key change, if any.
    pub next: Option<NextStatus>,
}

/// A staged key change, as [`TlsStatus`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NextStatus {
    /// The next pin, base64url.
    pub pin: String,
    /// When it takes over, Unix seconds.
    pub takes_over_at: u64,
    /// Its certificate's notAfter.
    pub not_after: u64,
}

/// The warning for a certificate expiring at `not_after`, seen at `now`: `None` more than
/// [`EXPIRY_WARNING_DAYS`] ahead.
pub fn expiry_warning(not_after: u64, now: u64) -> Option<String> {
    if not_after > now.saturating_add(EXPIRY_WARNING_DAYS * DAY) {
        return None;
    }
    Some(if not_after <= now {
        "the server's TLS certificate has expired: run `pramaan admin renew-cert --data DIR` \
         (same key: phones need nothing)"
            .to_string()
    } else {
        format!(
            "the server's TLS certificate expires in {} days: run `pramaan admin renew-cert \
             --data DIR` (same key: phones need nothing)",
            (not_after - now) / DAY
        )
    })
}

impl CertResolver {
    /// Loads the certificate of `paths` (and a staged one).
    pub fn load(paths: &Paths) -> Result<Self, CertError> {
        let (stamp, current, next) = Self::read(paths)?;
        Ok(Self {
            paths: paths.clone(),
            loaded: Mutex::new(Loaded {
                checked: Instant::now(),
                stamp,
                current,
                next,
                warned_day: 0,
            }),
        })
    }

    fn stamp(paths: &Paths) -> Stamp {
        [
            paths.cert(),
            paths.tls_key(),
            paths.next_cert(),
            paths.next_tls_key(),
            paths.next_takeover(),
        ]
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
    }

    #[allow(clippy::type_complexity)]
    fn read(paths: &Paths) -> Result<(Stamp, Served, Option<(Served, u64)>), CertError> {
        let stamp = Self::stamp(paths);
        let current = load_served(&paths.cert(), &paths.tls_key())?;
        let next = match staged_takeover(paths)? {
            Some(at) => Some((load_served(&paths.next_cert(), &paths.next_tls_key())?, at)),
            None => None,
        };
        Ok((stamp, current, next))
    }

    /// The loaded state, reloaded first if [`RELOAD_INTERVAL`] has passed and the files
    /// changed; then `f` of it.
    fn with<T>(&self, f: impl FnOnce(&mut Loaded) -> T) -> T {
        let mut l = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if l.checked.elapsed() >= RELOAD_INTERVAL {
            l.checked = Instant::now();
            let stamp = Self::stamp(&self.paths);
            if stamp != l.stamp {
                match Self::read(&self.paths) {
                    Ok((stamp, current, next)) => {
                        let pin = pramaan_core::encoding::b64url(&current.pin);
                        let staged = if next.is_some() {
                            ", a key change staged"
                        } else {
                            ""
                        };
                        log::info!(
                            "TLS certificate reloaded: pin {pin}, valid until {}{staged}",
                            current.not_after
                        );
                        l.stamp = stamp;
                        l.current = current;
                        l.next = next;
                    }
                    Err(e) => log::warn!("TLS certificate not reloaded (kept the loaded one): {e}"),
                }
            }
        }
        f(&mut l)
    }

    /// The certificate served at `now`: the staged one from its takeover time.
    fn in_force(l: &Loaded, now: u64) -> &Served {
        match &l.next {
            Some((next, at)) if *at <= now => next,
            _ => &l.current,
        }
    }

    /// The pin served now (what new QR codes carry).
    pub fn current_pin(&self) -> [u8; 32] {
        let t = now();
        self.with(|l| Self::in_force(l, t).pin)
    }

    /// The staged key's pin and takeover time while it has not taken over (what signed
    /// answers carry).
    pub fn next_pin(&self) -> Option<NextPin> {
        let t = now();
        self.with(|l| match &l.next {
            Some((next, at)) if *at > t => Some(NextPin {
                pin: next.pin.to_vec(),
                takes_over_at: *at,
            }),
            _ => None,
        })
    }

    /// What is served and staged at `now`.
    pub fn status(&self, now: u64) -> TlsStatus {
        self.with(|l| {
            let served = Self::in_force(l, now);
            let days_left = (i128::from(served.not_after) - i128::from(now)) / i128::from(DAY);
            TlsStatus {
                pin: pramaan_core::encoding::b64url(&served.pin),
                not_after: served.not_after,
                days_left: i64::try_from(days_left).unwrap_or(i64::MIN),
                warning: expiry_warning(served.not_after, now),
                next: l
                    .next
                    .as_ref()
                    .filter(|(_, at)| *at > now)
                    .map(|(n, at)| NextStatus {
                        pin: pramaan_core::encoding::b64url(&n.pin),
                        takes_over_at: *at,
                        not_after: n.not_after,
                    }),
            }
        })
    }

    /// Logs the expiry warning if the certificate in force expires within
    /// [`EXPIRY_WARNING_DAYS`], at most once a (Unix) day: at `serve`'s start and then
    /// from the handshakes.
    pub fn warn_if_expiring(&self, now: u64) {
        self.with(|l| Self::warn(l, now));
    }

    fn warn(l: &mut Loaded, now: u64) {
        let day = now / DAY;
        if l.warned_day == day {
            return;
        }
        if let Some(w) = expiry_warning(Self::in_force(l, now).not_after, now) {
            log::warn!("{w}");
            l.warned_day = day;
        }
    }

    /// The expiry gauges for `/metrics`: the notAfter of the certificate in force
    /// (`role="current"`) and of a staged one (`role="next"`), and the takeover time.
    pub fn gauges(&self, now: u64) -> String {
        let s = self.status(now);
        let mut text = format!(
            "# HELP pramaan_tls_cert_expiry_timestamp_seconds notAfter of the server's TLS certificate, Unix seconds: role=\"current\" is served now, role=\"next\" is staged by a key change.\n\
             # TYPE pramaan_tls_cert_expiry_timestamp_seconds gauge\n\
             pramaan_tls_cert_expiry_timestamp_seconds{{role=\"current\"}} {}\n",
            s.not_after
        );
        if let Some(n) = &s.next {
            text.push_str(&format!(
                "pramaan_tls_cert_expiry_timestamp_seconds{{role=\"next\"}} {}\n\
                 # HELP pramaan_tls_next_key_takeover_timestamp_seconds When the staged TLS key takes over, Unix seconds.\n\
                 # TYPE pramaan_tls_next_key_takeover_timestamp_seconds gauge\n\
                 pramaan_tls_next_key_takeover_timestamp_seconds {}\n",
                n.not_after, n.takes_over_at
            ));
        }
        text
    }

    /// A rustls server configuration serving through `resolver` (ring provider, TLS 1.2
    /// and 1.3, HTTP/1.1).
    pub fn server_config(resolver: Arc<Self>) -> Result<rustls::ServerConfig, CertError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::from)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let t = now();
        Some(self.with(|l| {
            Self::warn(l, t);
            Self::in_force(l, t).key.clone()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_parse_and_short_ones_are_refused_with_what_they_mean() {
        assert_eq!(parse_duration("30d").expect("30d"), 30 * DAY);
        assert_eq!(parse_duration("12h").expect("12h"), 12 * 3600);
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        check_transition(30 * DAY).expect("30 days");
        let e = check_transition(DAY).expect_err("a day is too short");
        assert!(e.to_string().contains("enrolled again"), "{e}");
    }

    #[test]
    fn the_warning_starts_sixty_days_ahead() {
        let now = 1_800_000_000;
        assert_eq!(expiry_warning(now + 61 * DAY, now), None);
        let w = expiry_warning(now + 59 * DAY, now).expect("inside 60 days");
        assert!(w.contains("59 days") && w.contains("renew-cert"), "{w}");
        assert!(
            expiry_warning(now - 1, now)
                .expect("expired")
                .contains("expired")
        );
    }
}
