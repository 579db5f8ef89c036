//! Server configuration: `DIR/config.toml`, then `PRAMAAN_*` environment variables, over
//! built-in defaults.
//!
//! Why every option has a default: `pramaan admin init` followed by `pramaan serve` must
//! work with no file edited, and tests change one value (e.g. a one-second token life)
//! without restating the rest.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// Default `enroll_body_limit_bytes`: 16 KiB.
pub const DEFAULT_ENROLL_BODY_LIMIT: usize = 16 * 1024;
/// Default `attest_body_limit_bytes`: 12 KiB.
pub const DEFAULT_ATTEST_BODY_LIMIT: usize = 12 * 1024;

/// The variable that sets the default life of an enrollment token, seconds.
pub const ENROLL_TOKEN_TTL_ENV: &str = "PRAMAAN_ENROLL_TOKEN_TTL";
/// Its older name, still read (with a deprecation warning) when the new one is unset.
pub const OLD_ENROLL_TOKEN_TTL_ENV: &str = "PRAMAAN_TOKEN_TTL";

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has an unknown or mistyped key.
    #[error("{path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The TOML parser's message.
        reason: String,
    },
    /// A `PRAMAAN_*` environment variable does not parse.
    #[error("environment variable {name}={value:?}: {reason}")]
    Env {
        /// The variable, e.g. `PRAMAAN_LISTEN`.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A `[connections]` value is zero or absurd.
    #[error("[connections] {key} = {value}: {reason}")]
    OutOfRange {
        /// The key, e.g. `idle_timeout_secs`.
        key: &'static str,
        /// Its value.
        value: u64,
        /// The allowed range.
        reason: String,
    },
}

/// The variable naming the PostgreSQL database (over `database_url` in `config.toml`).
pub const DATABASE_URL_ENV: &str = "PRAMAAN_DATABASE_URL";
/// The variable naming the PEM CA of the database's TLS certificate (over `database_ca`).
pub const DATABASE_CA_ENV: &str = "PRAMAAN_DATABASE_CA";

/// Everything the running server needs to know.
///
/// Its `Debug` shows `database_url` only through [`crate::store::postgres::redact_url`]:
/// the URL may carry the database password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`PRAMAAN_LISTEN`).
    pub listen: SocketAddr,
    /// Host name the certificate was made for (written by `admin init`).
    pub host: String,
    /// URL devices use (in enrollment URIs); default `https://<host or listen ip>:<port>`
    /// (`PRAMAAN_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// Life of a server nonce, seconds (`PRAMAAN_NONCE_TTL`).
    pub nonce_ttl_secs: u64,
    /// Default life of an enrollment token, seconds, 300 (5 minutes) to 2592000 (30 days)
    /// (`PRAMAAN_ENROLL_TOKEN_TTL`; the older `PRAMAAN_TOKEN_TTL`, too close to the
    /// `PRAMAAN_TOKEN` that holds a bearer token, is still read, with a warning). IT may
    /// choose another life per token (`pramaan enroll-token --ttl`).
    pub enrollment_token_ttl_secs: u64,
    /// How old an offline attestation may be, seconds (`PRAMAAN_OFFLINE_WINDOW`).
    pub offline_window_secs: u64,
    /// Largest `POST /v1/enroll` body, bytes (`PRAMAAN_ENROLL_BODY_LIMIT`). The largest
    /// real enrollment (an Apple App Attest attestation object, ~5.3 KB, signed) is about
    /// 6 KB; the default leaves over twice that.
    pub enroll_body_limit_bytes: usize,
    /// Largest `POST /v1/attest` body, bytes (`PRAMAAN_ATTEST_BODY_LIMIT`). A check-in
    /// without evidence is under 1 KB; one carrying fresh evidence (an Android key
    /// attestation chain, at most ~5.3 KB in the real chains) about 6 KB. Every accepted
    /// attestation is kept whole in the audit log, so this times the policy's
    /// `attestations_per_day` bounds what one device adds to the log in a day.
    pub attest_body_limit_bytes: usize,
    /// Older files' single limit (`PRAMAAN_BODY_LIMIT`): still honoured, as a ceiling over
    /// both limits above (a file from an older `admin init` says 65536, which changes
    /// nothing).
    #[serde(rename = "body_limit_bytes")]
    pub legacy_body_limit_bytes: Option<usize>,
    /// Sustained unsigned device requests (challenges, enrollments, attestations that
    /// fail before their signature verifies) per second per client address (IPv6: per
    /// /64); 0 disables (`PRAMAAN_RATE_LIMIT`).
    pub rate_limit_per_sec: u32,
    /// Burst allowance per client address (`PRAMAAN_RATE_BURST`).
    pub rate_limit_burst: u32,
    /// Sustained verified attestations per minute per device (by its key id), whatever
    /// its address; 0 disables (`PRAMAAN_DEVICE_RATE`). The policy's daily `[limits]`
    /// apply as well.
    pub device_rate_per_min: u32,
    /// Burst allowance per device (`PRAMAAN_DEVICE_BURST`): an offline outbox delivered
    /// at once must fit.
    pub device_rate_burst: u32,
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client; from any
    /// other peer the header is ignored (`PRAMAAN_TRUSTED_PROXIES`, comma-separated).
    pub trusted_proxies: Vec<String>,
    /// Moved: the Pramaan iOS app ids are the department policy's `[evidence.apple]
    /// app_ids`. Kept only so that a file written by an older `admin init` (which has
    /// `apple_app_ids = []`) still loads; a non-empty list is refused with that advice.
    #[serde(rename = "apple_app_ids")]
    pub legacy_apple_app_ids: Vec<String>,
    /// Moved too: `[evidence.apple] environment` in the department policy.
    #[serde(rename = "apple_allow_development")]
    pub legacy_apple_allow_development: bool,
    /// `[[witnesses]]`: witnesses asked to cosign each new checkpoint (see
    /// [`WitnessConfig`]); none by default.
    pub witnesses: Vec<WitnessConfig>,
    /// `[connections]`: timeouts and the per-address cap (see [`ConnectionsConfig`]).
    pub connections: ConnectionsConfig,
    /// The PostgreSQL database shared by every instance of a deployment, as a URL
    /// (`postgresql://pramaan:PASSWORD@db.example/pramaan`) or `key=value` string
    /// (`PRAMAAN_DATABASE_URL`). Unset: the embedded SQLite `DIR/pramaan.db`. Never shown
    /// unredacted (it may carry a password).
    pub database_url: Option<String>,
    /// The PEM file of the CA that signed the database server's certificate
    /// (`PRAMAAN_DATABASE_CA`): given, the connection is TLS and the certificate and host
    /// name are verified; unset, no TLS (a database on the same machine or private link).
    pub database_ca: Option<PathBuf>,
    /// The first second the previous device protocol (v1: the previous release's apps)
    /// is refused, Unix seconds. Written as a date, `previous_protocol_until =
    /// "2027-05-31"` (v1 accepted through that day, UTC) or an RFC 3339 time (refused from
    /// it) (`PRAMAAN_PREVIOUS_PROTOCOL_UNTIL`); default [`DEFAULT_PREVIOUS_PROTOCOL_UNTIL`].
    #[serde(deserialize_with = "protocol_until")]
    pub previous_protocol_until: u64,
}

/// Default of `previous_protocol_until`: v1 apps are accepted through 2027-05-31 (UTC),
/// about six months after this release, and refused from 2027-06-01T00:00:00Z.
pub const DEFAULT_PREVIOUS_PROTOCOL_UNTIL: u64 = 1_811_808_000;

/// Parses `previous_protocol_until`: `YYYY-MM-DD` (accepted through that day, UTC: the
/// next midnight) or an RFC 3339 time (refused from it).
pub fn parse_protocol_until(text: &str) -> Result<u64, String> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    let secs = if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        t.unix_timestamp()
    } else {
        let format =
            time::format_description::parse("[year]-[month]-[day]").map_err(|e| e.to_string())?;
        let day = time::Date::parse(text, &format)
            .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
        day.next_day()
            .ok_or_else(|| format!("{text:?} is past the calendar"))?
            .midnight()
            .assume_utc()
            .unix_timestamp()
    };
    u64::try_from(secs).map_err(|_| format!("{text:?} is before 1970"))
}

fn protocol_until<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    parse_protocol_until(&text).map_err(serde::de::Error::custom)
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every field but the database URL as derived; the URL redacted.
        let Self {
            listen,
            host,
            public_url,
            nonce_ttl_secs,
            enrollment_token_ttl_secs,
            offline_window_secs,
            enroll_body_limit_bytes,
            attest_body_limit_bytes,
            legacy_body_limit_bytes,
            rate_limit_per_sec,
            rate_limit_burst,
            device_rate_per_min,
            device_rate_burst,
            trusted_proxies,
            legacy_apple_app_ids,
            legacy_apple_allow_development,
            witnesses,
            connections,
            database_url,
            database_ca,
            previous_protocol_until,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("host", host)
            .field("public_url", public_url)
            .field("nonce_ttl_secs", nonce_ttl_secs)
            .field("enrollment_token_ttl_secs", enrollment_token_ttl_secs)
            .field("offline_window_secs", offline_window_secs)
            .field("enroll_body_limit_bytes", enroll_body_limit_bytes)
            .field("attest_body_limit_bytes", attest_body_limit_bytes)
            .field("legacy_body_limit_bytes", legacy_body_limit_bytes)
            .field("rate_limit_per_sec", rate_limit_per_sec)
            .field("rate_limit_burst", rate_limit_burst)
            .field("device_rate_per_min", device_rate_per_min)
            .field("device_rate_burst", device_rate_burst)
            .field("trusted_proxies", trusted_proxies)
            .field("legacy_apple_app_ids", legacy_apple_app_ids)
            .field(
                "legacy_apple_allow_development",
                legacy_apple_allow_development,
            )
            .field("witnesses", witnesses)
            .field("connections", connections)
            .field(
                "database_url",
                &database_url
                    .as_deref()
                    .map(crate::store::postgres::redact_url),
            )
            .field("database_ca", database_ca)
            .field("previous_protocol_until", previous_protocol_until)
            .finish()
    }
}

/// `[connections]`: how long, how slowly and how many connections one client may hold
/// (design section 8.1; why each, in `crate::conn_limits`).
///
/// ```toml
/// [connections]
/// handshake_timeout_secs = 10     # TLS handshake
/// header_timeout_secs = 10        # a request's headers
/// body_min_bytes_per_sec = 1024   # request and response bodies, after
/// body_grace_secs = 10            # this floor
/// request_timeout_secs = 60       # headers to answer (408 or 503)
/// idle_timeout_secs = 60          # keep-alive between requests
/// max_per_address = 64            # open at once per IPv4 address or IPv6 /64
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Longest TLS handshake, seconds (`PRAMAAN_HANDSHAKE_TIMEOUT`).
    pub handshake_timeout_secs: u64,
    /// Longest time to receive a request's headers, seconds (`PRAMAAN_HEADER_TIMEOUT`).
    pub header_timeout_secs: u64,
    /// Slowest accepted body, bytes per second (`PRAMAAN_BODY_MIN_RATE`).
    pub body_min_bytes_per_sec: u64,
    /// Time every body gets before the minimum rate applies, seconds
    /// (`PRAMAAN_BODY_GRACE`).
    pub body_grace_secs: u64,
    /// Longest time from a request's headers to its answer, seconds
    /// (`PRAMAAN_REQUEST_TIMEOUT`).
    pub request_timeout_secs: u64,
    /// Longest wait for the next request on a kept-alive connection, seconds
    /// (`PRAMAAN_IDLE_TIMEOUT`).
    pub idle_timeout_secs: u64,
    /// Most connections open at once from one IPv4 address or IPv6 /64
    /// (`PRAMAAN_MAX_CONNECTIONS_PER_ADDRESS`). Behind a reverse proxy every client has
    /// the proxy's address: raise it there.
    pub max_per_address: u32,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        use crate::conn_limits as d;
        Self {
            handshake_timeout_secs: d::DEFAULT_HANDSHAKE_SECS,
            header_timeout_secs: d::DEFAULT_HEADER_SECS,
            body_min_bytes_per_sec: d::DEFAULT_BODY_MIN_RATE,
            body_grace_secs: d::DEFAULT_BODY_GRACE_SECS,
            request_timeout_secs: d::DEFAULT_REQUEST_SECS,
            idle_timeout_secs: d::DEFAULT_IDLE_SECS,
            max_per_address: d::DEFAULT_PER_ADDRESS,
        }
    }
}

impl ConnectionsConfig {
    /// Refuses a zero or absurd value, naming the key and its allowed range: a zero
    /// timeout would close every connection, a huge one is no limit at all.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const HOUR: u64 = 3600;
        let checks: [(&'static str, u64, u64, u64, &str); 7] = [
            (
                "handshake_timeout_secs",
                self.handshake_timeout_secs,
                1,
                300,
                "seconds",
            ),
            (
                "header_timeout_secs",
                self.header_timeout_secs,
                1,
                300,
                "seconds",
            ),
            (
                "body_min_bytes_per_sec",
                self.body_min_bytes_per_sec,
                16,
                1 << 20,
                "bytes per second",
            ),
            ("body_grace_secs", self.body_grace_secs, 1, 300, "seconds"),
            (
                "request_timeout_secs",
                self.request_timeout_secs,
                1,
                HOUR,
                "seconds",
            ),
            (
                "idle_timeout_secs",
                self.idle_timeout_secs,
                1,
                HOUR,
                "seconds",
            ),
            (
                "max_per_address",
                u64::from(self.max_per_address),
                1,
                1_000_000,
                "connections",
            ),
        ];
        for (key, value, min, max, unit) in checks {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::OutOfRange {
                    key,
                    value,
                    reason: format!("must be between {min} and {max} {unit}"),
                });
            }
        }
        Ok(())
    }

    /// The limits the server applies.
    pub fn limits(&self) -> crate::conn_limits::ConnLimits {
        use std::time::Duration;
        crate::conn_limits::ConnLimits {
            handshake: Duration::from_secs(self.handshake_timeout_secs),
            header: Duration::from_secs(self.header_timeout_secs),
            body_grace: Duration::from_secs(self.body_grace_secs),
            body_min_rate: self.body_min_bytes_per_sec,
            request: Duration::from_secs(self.request_timeout_secs),
            idle: Duration::from_secs(self.idle_timeout_secs),
            per_address: self.max_per_address,
        }
    }
}

/// One `[[witnesses]]` entry: a C2SP tlog-witness the log asks for cosignatures.
///
/// ```toml
/// [[witnesses]]
/// url = "https://witness.audit.example:8444"        # its submission prefix
/// key = "audit.example/witness+1a2b3c4d+BA..."     # `pramaan witness init` prints it
/// pin = "base64url SPKI pin"                        # or: ca = "/path/to/witness-ca.pem"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's `https://` submission prefix.
    pub url: String,
    /// The witness's verifier key (`<name>+<hex id>+<base64(0x04 || key)>`).
    pub key: String,
    /// The SPKI pin of the witness's TLS certificate (base64url), or
    #[serde(default)]
    pub pin: Option<String>,
    /// a CA file (PEM) its certificate chains to; exactly one of `pin` and `ca`.
    #[serde(default)]
    pub ca: Option<std::path::PathBuf>,
}

impl WitnessConfig {
    /// Checks the URL, the key and that exactly one of `pin` and `ca` is given; the
    /// reason names the field.
    pub fn validate(&self) -> Result<(), String> {
        pramaan_core::transport::ServerUrl::parse(&self.url).map_err(|e| format!("url: {e}"))?;
        pramaan_tlog::witness::WitnessKey::parse(&self.key).map_err(|e| {
            format!("key: {e} (expected the witness's verifier key, as `pramaan witness init` prints it)")
        })?;
        match (&self.pin, &self.ca) {
            (Some(pin), None) => pramaan_core::transport::Trust::from_pin_b64url(pin)
                .map(|_| ())
                .map_err(|e| format!("pin: {e}")),
            (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => Err("give either pin or ca, not both".into()),
            (None, None) => {
                Err("give the witness's TLS pin (pin = ...) or CA file (ca = ...)".into())
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            host: "localhost".into(),
            public_url: None,
            nonce_ttl_secs: 600,
            enrollment_token_ttl_secs: 72 * 3600,
            offline_window_secs: 7 * 86_400,
            enroll_body_limit_bytes: DEFAULT_ENROLL_BODY_LIMIT,
            attest_body_limit_bytes: DEFAULT_ATTEST_BODY_LIMIT,
            legacy_body_limit_bytes: None,
            rate_limit_per_sec: 200,
            rate_limit_burst: 400,
            device_rate_per_min: 60,
            device_rate_burst: 60,
            trusted_proxies: Vec::new(),
            legacy_apple_app_ids: Vec::new(),
            legacy_apple_allow_development: false,
            witnesses: Vec::new(),
            connections: ConnectionsConfig::default(),
            database_url: None,
            database_ca: None,
            previous_protocol_until: DEFAULT_PREVIOUS_PROTOCOL_UNTIL,
        }
    }
}

/// The TOML parser's `message` without the lines of the file it quotes, when the file
/// names a database: the `database_url` line may hold a password.
fn without_quoted_lines(message: &str, file: &str) -> String {
    if !file.contains("database_url") {
        return message.to_string();
    }
    // The quoted lines look like `12 | text`, their markers like `   |     ^`.
    let quoted = |l: &str| {
        let t = l.trim_start();
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        t[digits..].trim_start().starts_with('|')
    };
    message
        .lines()
        .filter(|l| !quoted(l))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads `DIR/config.toml` (if any) and applies the environment.
    pub fn load(data_dir: &Path) -> Result<Self, ConfigError> {
        let mut config = Self::from_file(&data_dir.join("config.toml"))?;
        config.apply_env(|name| std::env::var(name).ok())?;
        config.connections.validate()?;
        pramaan_core::api::check_enroll_token_ttl(config.enrollment_token_ttl_secs).map_err(
            |reason| ConfigError::Invalid {
                path: data_dir.join("config.toml").display().to_string(),
                reason: format!(
                    "enrollment_token_ttl_secs (or PRAMAAN_ENROLL_TOKEN_TTL): {reason}"
                ),
            },
        )?;
        Ok(config)
    }

    /// Reads one TOML file; a missing file gives the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let config: Self = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.display().to_string(),
            reason: without_quoted_lines(&e.to_string(), &text),
        })?;
        if !config.legacy_apple_app_ids.is_empty() || config.legacy_apple_allow_development {
            return Err(ConfigError::Invalid {
                path: path.display().to_string(),
                reason: "apple_app_ids and apple_allow_development moved to each department's \
                         policy ([evidence.apple] app_ids and environment); remove them here \
                         and set them with `pramaan policy set`"
                    .into(),
            });
        }
        for (i, w) in config.witnesses.iter().enumerate() {
            w.validate().map_err(|reason| ConfigError::Invalid {
                path: path.display().to_string(),
                reason: format!("[[witnesses]] entry {} ({}): {reason}", i + 1, w.url),
            })?;
        }
        Ok(config)
    }

    /// Overrides from `PRAMAAN_*` variables, read through `get` (testable).
    pub fn apply_env(
        &mut self,
        get: impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                name,
                value: value.clone(),
                reason: e.to_string(),
            })
        }
        if let Some(v) = get("PRAMAAN_LISTEN") {
            self.listen = parse("PRAMAAN_LISTEN", v)?;
        }
        if let Some(v) = get("PRAMAAN_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = get("PRAMAAN_NONCE_TTL") {
            self.nonce_ttl_secs = parse("PRAMAAN_NONCE_TTL", v)?;
        }
        if let Some(v) = get(ENROLL_TOKEN_TTL_ENV) {
            self.enrollment_token_ttl_secs = parse(ENROLL_TOKEN_TTL_ENV, v)?;
        } else if let Some(v) = get(OLD_ENROLL_TOKEN_TTL_ENV) {
            log::warn!(
                "PRAMAAN_TOKEN_TTL is deprecated (too close to PRAMAAN_TOKEN, the bearer \
                 token): rename it PRAMAAN_ENROLL_TOKEN_TTL"
            );
            self.enrollment_token_ttl_secs = parse(OLD_ENROLL_TOKEN_TTL_ENV, v)?;
        }
        if let Some(v) = get("PRAMAAN_OFFLINE_WINDOW") {
            self.offline_window_secs = parse("PRAMAAN_OFFLINE_WINDOW", v)?;
        }
        if let Some(v) = get("PRAMAAN_BODY_LIMIT") {
            self.legacy_body_limit_bytes = Some(parse("PRAMAAN_BODY_LIMIT", v)?);
        }
        if let Some(v) = get("PRAMAAN_ENROLL_BODY_LIMIT") {
            self.enroll_body_limit_bytes = parse("PRAMAAN_ENROLL_BODY_LIMIT", v)?;
        }
        if let Some(v) = get("PRAMAAN_ATTEST_BODY_LIMIT") {
            self.attest_body_limit_bytes = parse("PRAMAAN_ATTEST_BODY_LIMIT", v)?;
        }
        if let Some(v) = get("PRAMAAN_RATE_LIMIT") {
            self.rate_limit_per_sec = parse("PRAMAAN_RATE_LIMIT", v)?;
        }
        if let Some(v) = get("PRAMAAN_RATE_BURST") {
            self.rate_limit_burst = parse("PRAMAAN_RATE_BURST", v)?;
        }
        if let Some(v) = get("PRAMAAN_DEVICE_RATE") {
            self.device_rate_per_min = parse("PRAMAAN_DEVICE_RATE", v)?;
        }
        if let Some(v) = get("PRAMAAN_DEVICE_BURST") {
            self.device_rate_burst = parse("PRAMAAN_DEVICE_BURST", v)?;
        }
        if let Some(v) = get("PRAMAAN_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        let c = &mut self.connections;
        for (name, field) in [
            ("PRAMAAN_HANDSHAKE_TIMEOUT", &mut c.handshake_timeout_secs),
            ("PRAMAAN_HEADER_TIMEOUT", &mut c.header_timeout_secs),
            ("PRAMAAN_BODY_MIN_RATE", &mut c.body_min_bytes_per_sec),
            ("PRAMAAN_BODY_GRACE", &mut c.body_grace_secs),
            ("PRAMAAN_REQUEST_TIMEOUT", &mut c.request_timeout_secs),
            ("PRAMAAN_IDLE_TIMEOUT", &mut c.idle_timeout_secs),
        ] {
            if let Some(v) = get(name) {
                *field = parse(name, v)?;
            }
        }
        if let Some(v) = get("PRAMAAN_MAX_CONNECTIONS_PER_ADDRESS") {
            c.max_per_address = parse("PRAMAAN_MAX_CONNECTIONS_PER_ADDRESS", v)?;
        }
        // An empty value unsets (back to SQLite, or to no TLS): `PRAMAAN_DATABASE_URL=`.
        if let Some(v) = get(DATABASE_URL_ENV) {
            self.database_url = Some(v.trim().to_string()).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("PRAMAAN_PREVIOUS_PROTOCOL_UNTIL") {
            self.previous_protocol_until =
                parse_protocol_until(&v).map_err(|reason| ConfigError::Env {
                    name: "PRAMAAN_PREVIOUS_PROTOCOL_UNTIL",
                    value: v.clone(),
                    reason,
                })?;
        }
        if let Some(v) = get(DATABASE_CA_ENV) {
            self.database_ca = Some(PathBuf::from(v.trim())).filter(|p| !p.as_os_str().is_empty());
        }
        Ok(())
    }

    /// The enrollment body limit in force (under the legacy ceiling, if set).
    pub fn enroll_body_limit(&self) -> usize {
        self.legacy_body_limit_bytes
            .map_or(self.enroll_body_limit_bytes, |c| {
                c.min(self.enroll_body_limit_bytes)
            })
    }

    /// The attestation body limit in force (under the legacy ceiling, if set).
    pub fn attest_body_limit(&self) -> usize {
        self.legacy_body_limit_bytes
            .map_or(self.attest_body_limit_bytes, |c| {
                c.min(self.attest_body_limit_bytes)
            })
    }

    /// The largest device request body of any endpoint (the device routes' outer limit).
    pub fn device_body_limit(&self) -> usize {
        self.enroll_body_limit().max(self.attest_body_limit())
    }

    /// The URL devices are told to use, given the address actually bound.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let ip = bound.ip();
        if ip.is_unspecified() {
            format!("https://{}:{}", self.host, bound.port())
        } else if ip.is_ipv6() {
            format!("https://[{ip}]:{}", bound.port())
        } else {
            format!("https://{ip}:{}", bound.port())
        }
    }

    /// The file `admin init` writes: the host, and every default spelled out.
    pub fn template(host: &str) -> String {
        let d = Self::default();
        format!(
            "# Pramaan server configuration. Environment variables PRAMAAN_* override these.\n\
             host = {host:?}\n\
             listen = \"{}\"\n\
             # public_url = \"https://{host}:8443\"\n\
             nonce_ttl_secs = {}\n\
             # default life of an enrollment token (300 to 2592000 s; per token: --ttl)\n\
             enrollment_token_ttl_secs = {}\n\
             offline_window_secs = {}\n\
             # device request bodies: the largest real ones are ~6 KB (with evidence)\n\
             enroll_body_limit_bytes = {}\n\
             attest_body_limit_bytes = {}\n\
             # unsigned device requests per client address (IPv6: per /64)\n\
             rate_limit_per_sec = {}\n\
             rate_limit_burst = {}\n\
             # verified attestations per device, whatever its address\n\
             device_rate_per_min = {}\n\
             device_rate_burst = {}\n\
             # proxies whose X-Forwarded-For is believed, e.g. [\"10.0.0.0/8\"]\n\
             trusted_proxies = []\n\
             # Evidence requirements (the Pramaan app's identity, boot state, patch level)\n\
             # are each department's policy: [evidence] in `pramaan policy set`.\n\
             # Witnesses that cosign each checkpoint (`pramaan witness init` prints key and pin):\n\
             # [[witnesses]]\n\
             # url = \"https://witness.example:8444\"\n\
             # key = \"witness.example/w+<hex id>+<base64 key>\"\n\
             # pin = \"<base64url SPKI pin>\"\n\
             # Several instances on one PostgreSQL database (docs/deploy.md); unset: the\n\
             # embedded SQLite pramaan.db. A URL with a password belongs in\n\
             # PRAMAAN_DATABASE_URL, or in this file readable by the server alone.\n\
             # database_url = \"postgresql://pramaan@db.example:5432/pramaan\"\n\
             # database_ca = \"/etc/pramaan/db-ca.pem\"   # TLS to the database, verified\n\
             \n\
             # Connection limits (design section 8.1). Behind a reverse proxy every client has\n\
             # the proxy's address: raise max_per_address there.\n\
             [connections]\n\
             handshake_timeout_secs = {}\n\
             header_timeout_secs = {}\n\
             # bodies (both ways) must keep up this rate once body_grace_secs have passed\n\
             body_min_bytes_per_sec = {}\n\
             body_grace_secs = {}\n\
             request_timeout_secs = {}\n\
             idle_timeout_secs = {}\n\
             max_per_address = {}\n",
            d.listen,
            d.nonce_ttl_secs,
            d.enrollment_token_ttl_secs,
            d.offline_window_secs,
            d.enroll_body_limit_bytes,
            d.attest_body_limit_bytes,
            d.rate_limit_per_sec,
            d.rate_limit_burst,
            d.device_rate_per_min,
            d.device_rate_burst,
            d.connections.handshake_timeout_secs,
            d.connections.header_timeout_secs,
            d.connections.body_min_bytes_per_sec,
            d.connections.body_grace_secs,
            d.connections.request_timeout_secs,
            d.connections.idle_timeout_secs,
            d.connections.max_per_address,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_the_defaults() {
        let c: Config = toml::from_str(&Config::template("gov.example")).expect("parses");
        assert_eq!(
            c,
            Config {
                host: "gov.example".into(),
                ..Config::default()
            }
        );
    }

    /// `previous_protocol_until`: a date means through that day (UTC), an RFC 3339 time
    /// means from that instant; the default is the documented 2027-05-31; garbage is
    /// refused naming the key.
    #[test]
    fn the_previous_protocol_date_parses_as_documented() {
        assert_eq!(
            parse_protocol_until("2027-05-31"),
            Ok(DEFAULT_PREVIOUS_PROTOCOL_UNTIL)
        );
        assert_eq!(
            parse_protocol_until("2027-06-01T00:00:00Z"),
            Ok(DEFAULT_PREVIOUS_PROTOCOL_UNTIL)
        );
        assert_eq!(parse_protocol_until("1970-01-01T00:00:10Z"), Ok(10));
        assert!(parse_protocol_until("31/05/2027").is_err());
        let c: Config = toml::from_str("previous_protocol_until = \"2026-12-31\"").expect("parses");
        assert_eq!(c.previous_protocol_until, 1_798_761_600);
        let e =
            toml::from_str::<Config>("previous_protocol_until = \"soon\"").expect_err("refused");
        assert!(e.to_string().contains("not a date"), "{e}");
        let mut c = Config::default();
        c.apply_env(|n| (n == "PRAMAAN_PREVIOUS_PROTOCOL_UNTIL").then(|| "2027-01-01".into()))
            .expect("env");
        assert_eq!(c.previous_protocol_until, 1_798_848_000);
    }

    #[test]
    fn env_overrides_and_rejects_garbage() {
        let mut c = Config::default();
        c.apply_env(|n| match n {
            "PRAMAAN_LISTEN" => Some("0.0.0.0:9000".into()),
            "PRAMAAN_ENROLL_TOKEN_TTL" => Some("1".into()),
            _ => None,
        })
        .expect("applies");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.enrollment_token_ttl_secs, 1);
        // The old name still works, and the new one wins over it.
        c.apply_env(|n| (n == "PRAMAAN_TOKEN_TTL").then(|| "7200".into()))
            .expect("old name");
        assert_eq!(c.enrollment_token_ttl_secs, 7200);
        c.apply_env(|n| match n {
            "PRAMAAN_TOKEN_TTL" => Some("7200".into()),
            "PRAMAAN_ENROLL_TOKEN_TTL" => Some("3600".into()),
            _ => None,
        })
        .expect("both");
        assert_eq!(c.enrollment_token_ttl_secs, 3600);
        assert_eq!(c.public_url_for(c.listen), "https://localhost:9000");
        let err = c.apply_env(|n| (n == "PRAMAAN_NONCE_TTL").then(|| "soon".into()));
        assert!(matches!(err, Err(ConfigError::Env { .. })));
    }

    #[test]
    fn rate_limit_settings_come_from_the_environment() {
        let mut c = Config::default();
        c.apply_env(|n| match n {
            "PRAMAAN_DEVICE_RATE" => Some("6".into()),
            "PRAMAAN_DEVICE_BURST" => Some("12".into()),
            "PRAMAAN_TRUSTED_PROXIES" => Some(" 10.0.0.0/8, ,fd00::1 ".into()),
            _ => None,
        })
        .expect("applies");
        assert_eq!((c.device_rate_per_min, c.device_rate_burst), (6, 12));
        assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "fd00::1"]);
        let err = c.apply_env(|n| (n == "PRAMAAN_DEVICE_RATE").then(|| "-1".into()));
        assert!(matches!(err, Err(ConfigError::Env { .. })));
        let file: Config =
            toml::from_str("trusted_proxies = [\"127.0.0.1\"]\ndevice_rate_per_min = 0\n")
                .expect("parses");
        assert_eq!(file.trusted_proxies, ["127.0.0.1"]);
        assert_eq!(file.device_rate_per_min, 0);
    }

    /// Separate limits per endpoint; an older file's single `body_limit_bytes` is a
    /// ceiling over both (its old default 65536 changes nothing).
    #[test]
    fn body_limits_per_endpoint_under_the_legacy_ceiling() {
        let d = Config::default();
        assert_eq!(d.enroll_body_limit(), DEFAULT_ENROLL_BODY_LIMIT);
        assert_eq!(d.attest_body_limit(), DEFAULT_ATTEST_BODY_LIMIT);
        assert_eq!(d.device_body_limit(), DEFAULT_ENROLL_BODY_LIMIT);
        let old: Config = toml::from_str("body_limit_bytes = 65536").expect("parses");
        assert_eq!(old.attest_body_limit(), DEFAULT_ATTEST_BODY_LIMIT);
        let mut c = Config::default();
        c.apply_env(|n| match n {
            "PRAMAAN_BODY_LIMIT" => Some("4096".into()),
            "PRAMAAN_ENROLL_BODY_LIMIT" => Some("20000".into()),
            _ => None,
        })
        .expect("applies");
        assert_eq!((c.enroll_body_limit(), c.attest_body_limit()), (4096, 4096));
        c.legacy_body_limit_bytes = None;
        assert_eq!(c.enroll_body_limit(), 20000);
    }

    /// `[connections]` loads from the file and the environment; a zero or absurd value is
    /// refused naming the key and the range, from either source.
    #[test]
    fn connection_limits_are_configurable_and_validated() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("config.toml"),
            "[connections]\nidle_timeout_secs = 5\nmax_per_address = 8\n",
        )
        .expect("write");
        let c = Config::from_file(&dir.path().join("config.toml")).expect("loads");
        assert_eq!(c.connections.idle_timeout_secs, 5);
        assert_eq!(c.connections.limits().per_address, 8);
        assert_eq!(
            c.connections.header_timeout_secs,
            ConnectionsConfig::default().header_timeout_secs
        );
        assert_eq!(
            ConnectionsConfig::default().limits(),
            crate::conn_limits::ConnLimits::default()
        );
        assert!(ConnectionsConfig::default().validate().is_ok());
        for (key, value) in [
            ("header_timeout_secs", 0),
            ("idle_timeout_secs", 0),
            ("request_timeout_secs", 86_400),
            ("body_min_bytes_per_sec", 0),
            ("max_per_address", 0),
        ] {
            std::fs::write(
                dir.path().join("config.toml"),
                format!("[connections]\n{key} = {value}\n"),
            )
            .expect("write");
            let err = Config::load(dir.path()).expect_err(key).to_string();
            assert!(
                err.starts_with(&format!("[connections] {key} = {value}: must be between")),
                "{err}"
            );
        }
        let mut c = Config::default();
        c.apply_env(|n| (n == "PRAMAAN_HEADER_TIMEOUT").then(|| "3".into()))
            .expect("applies");
        assert_eq!(c.connections.header_timeout_secs, 3);
        c.apply_env(|n| (n == "PRAMAAN_BODY_MIN_RATE").then(|| "0".into()))
            .expect("applies");
        assert!(matches!(
            c.connections.validate(),
            Err(ConfigError::OutOfRange {
                key: "body_min_bytes_per_sec",
                ..
            })
        ));
    }

    /// The database comes from the file, the environment wins, an empty variable unsets
    /// (back to SQLite); the password never shows in `Debug`.
    #[test]
    fn database_url_and_ca_from_file_and_environment() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "database_url = \"postgresql://pramaan:s3cret-pw@db.example/pramaan\"\n\
             database_ca = \"/etc/pramaan/db-ca.pem\"\n",
        )
        .expect("write");
        let mut c = Config::from_file(&path).expect("loads");
        assert_eq!(
            c.database_url.as_deref(),
            Some("postgresql://pramaan:s3cret-pw@db.example/pramaan")
        );
        assert_eq!(
            c.database_ca.as_deref(),
            Some(Path::new("/etc/pramaan/db-ca.pem"))
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
        c.apply_env(|n| match n {
            DATABASE_URL_ENV => Some(" host=db2 user=pramaan password=other-pw ".into()),
            DATABASE_CA_ENV => Some("/tmp/ca.pem".into()),
            _ => None,
        })
        .expect("applies");
        assert_eq!(
            c.database_url.as_deref(),
            Some("host=db2 user=pramaan password=other-pw")
        );
        assert_eq!(c.database_ca.as_deref(), Some(Path::new("/tmp/ca.pem")));
        assert!(!format!("{c:?}").contains("other-pw"));
        c.apply_env(|n| match n {
            DATABASE_URL_ENV | DATABASE_CA_ENV => Some(String::new()),
            _ => None,
        })
        .expect("applies");
        assert_eq!((c.database_url, c.database_ca), (None, None));
        assert_eq!(Config::default().database_url, None);

        // A file the parser refuses: its message never quotes the URL's line.
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1\"\ndatabase_url = \"postgresql://p:s3cret-pw@db/p\n",
        )
        .expect("write");
        let err = Config::from_file(&path)
            .expect_err("unterminated")
            .to_string();
        assert!(!err.contains("s3cret-pw"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("listne = \"x\"").is_err());
    }

    /// `[[witnesses]]` entries load, and a bad one is refused naming the entry and field.
    #[test]
    fn witnesses_are_parsed_and_validated() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.toml");
        let key = pramaan_tlog::witness::Cosigner::new(
            "audit.example/w".into(),
            pramaan_core::ServerKey::generate().expect("key"),
        )
        .expect("cosigner")
        .verifier_key();
        let pin = pramaan_core::encoding::b64url(&[7u8; 32]);
        let good = format!(
            "[[witnesses]]\nurl = \"https://w.example:8444\"\nkey = \"{key}\"\npin = \"{pin}\"\n"
        );
        std::fs::write(&path, &good).expect("write");
        let c = Config::from_file(&path).expect("loads");
        assert_eq!(c.witnesses.len(), 1);
        assert_eq!(c.witnesses[0].key, key);
        for (bad, needle) in [
            (good.replace("https://", "http://"), "url"),
            (good.replace(&key, "audit.example/w+00000000+AQ=="), "key"),
            (good.replace(&format!("pin = \"{pin}\"\n"), ""), "pin"),
            (format!("{good}ca = \"ca.pem\"\n"), "either pin or ca"),
            (good.replace(&pin, "short"), "pin"),
        ] {
            std::fs::write(&path, &bad).expect("write");
            let err = Config::from_file(&path).expect_err(&bad).to_string();
            assert!(
                err.contains("[[witnesses]] entry 1") && err.contains(needle),
                "{err}"
            );
        }
    }

    /// An older file's empty `apple_app_ids` still loads; app ids there are refused with
    /// the advice to move them to the department policy.
    #[test]
    fn app_attest_settings_moved_to_the_policy() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "apple_app_ids = []\n").expect("write");
        assert_eq!(Config::from_file(&path).expect("loads"), Config::default());
        std::fs::write(&path, "apple_app_ids = [\"ABCDE12345.gov.app\"]\n").expect("write");
        let err = Config::from_file(&path).expect_err("refused").to_string();
        assert!(err.contains("[evidence.apple] app_ids"), "{err}");
    }
}
