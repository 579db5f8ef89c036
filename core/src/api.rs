//! The HTTP API's shared vocabulary: rejection codes and the JSON bodies that the server
//! writes and the command line reads (design section 8).
//!
//! Why in core: the server and every client must agree on one spelling of each code and
//! each field. Before, the codes were string literals at every call site (with
//! `unknown_officer` and `officer_unknown` for one concept) and the command line guessed
//! field names of the compliance answer; now both sides (de)serialize these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::claims::ErrorBody;
use crate::evidence::EvidenceSummary;
use crate::model::{Assurance, ComplianceStatus, Failure, Officer, Platform, Verdict};
use crate::policy::{GroupEvidence, RowError};

/// The message of a [`RejectCode::Revoked`] refusal; IT's reason, when it gave one,
/// follows after `": "`. The device's own revocation is the one thing it may learn about
/// itself, and the agent shows the reason to the officer ([`revocation_reason`]).
pub const REVOKED_MESSAGE: &str = "this device was revoked by department IT";

/// The refusal message of a revoked device, with IT's reason if any.
pub fn revoked_message(reason: Option<&str>) -> String {
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => format!("{REVOKED_MESSAGE}: {r}"),
        None => REVOKED_MESSAGE.to_string(),
    }
}

/// IT's reason in a [`RejectCode::Revoked`] message written by [`revoked_message`];
/// `None` when there is none (or the message is another server's wording).
pub fn revocation_reason(message: &str) -> Option<&str> {
    message
        .strip_prefix(REVOKED_MESSAGE)?
        .strip_prefix(": ")
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// Why a request was refused: the `error` field of every error body, with its HTTP status.
///
/// One code means one thing and has one status (design section 5 item 6 for devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// 400: the body or a parameter does not parse.
    Malformed,
    /// 400: a protocol version this server does not speak.
    UnsupportedVersion,
    /// 400: the attestation's ueid is not the signing device.
    UeidMismatch,
    /// 400: the attestation names another officer than the device's.
    OfficerMismatch,
    /// 400: `iat` is ahead of the server's clock by more than the allowed skew.
    IatInFuture,
    /// 400: an uploaded row or policy belongs to another department.
    DepartmentMismatch,
    /// 400: auditor and admin tokens must name the department.
    DepartmentRequired,
    /// 400: the policy document is refused.
    InvalidPolicy,
    /// 400: the roster upload is refused.
    InvalidRoster,
    /// 400: an unknown output format was asked for.
    BadFormat,
    /// 400: an audit range or tree size outside the log.
    BadRange,
    /// 401: no or malformed bearer token.
    Unauthorized,
    /// 401: a bearer token the server does not know.
    UnknownToken,
    /// 401: a device signature that does not verify.
    BadSignature,
    /// 401: no enrolled device has this key id.
    UnknownDevice,
    /// 403: the role may not do this, or not for this department.
    Forbidden,
    /// 403: the device was revoked.
    Revoked,
    /// 403: the key belongs to a revoked device; a revoked key never enrolls again.
    KeyRevoked,
    /// 404: no such resource.
    NotFound,
    /// 404: no officer with this id in the registry.
    UnknownOfficer,
    /// 404: no such group in the department's policy.
    UnknownGroup,
    /// 409: the department has no policy yet.
    NoPolicy,
    /// 409: the nonce was not issued by this server (or expired long ago).
    NonceUnknown,
    /// 409: the nonce was used already.
    NonceReused,
    /// 409: the nonce expired.
    NonceExpired,
    /// 409: `seq` is not above the device's last accepted one.
    SeqNotIncreasing,
    /// 409: an offline attestation older than the offline window.
    OfflineTooOld,
    /// 409: the device is revoked already.
    AlreadyRevoked,
    /// 409: a concurrent request changed the same record first; nothing was recorded.
    Conflict,
    /// 409: the device key is enrolled already (a key is enrolled once).
    KeyEnrolled,
    /// 409: the officer has an active device and the token does not allow another.
    DeviceLimit,
    /// 409: an offline attestation not chained to the last nonce the server sent the
    /// device.
    OfflineNotChained,
    /// 409: more offline attestations in a row than the policy accepts.
    OfflineRunExceeded,
    /// 409: an App Attest assertion whose counter does not exceed the last one accepted
    /// (a replay).
    CounterNotIncreasing,
    /// 410: the enrollment token was used.
    TokenUsed,
    /// 410: the enrollment token expired.
    TokenExpired,
    /// 410: IT cancelled the enrollment token.
    TokenCancelled,
    /// 413: the body is over the limit.
    TooLarge,
    /// 422: a registry import with rejected rows, refused whole (all or nothing); the
    /// body is the import report with every row error. Nothing was written or logged.
    RowsRejected,
    /// 429: too many requests from this client.
    RateLimited,
    /// 429: the device reached its department policy's `[limits]` (attestations or
    /// offline deliveries accepted in 24 hours); `Retry-After` says when a slot frees.
    /// Nothing was recorded; the device keeps its token and tries again then.
    QuotaExceeded,
    /// 500: the server failed; nothing was recorded.
    Internal,
    /// 426: the app speaks the previous device protocol, which this server no longer
    /// accepts (past its `previous_protocol_until`): the officer must update the app.
    /// Nothing was recorded; queued check-ins are sent once the app is updated.
    ProtocolOutdated,
}

/// The message of a [`RejectCode::ProtocolOutdated`] refusal; the server adds what to do
/// ([`crate::policy::remedy::UPDATE_APP`]).
pub const PROTOCOL_OUTDATED_MESSAGE: &str =
    "this version of the Pramaan app is too old for the server";

impl RejectCode {
    /// Every code, for documentation and tests.
    pub const ALL: [RejectCode; 43] = [
        RejectCode::Malformed,
        RejectCode::UnsupportedVersion,
        RejectCode::UeidMismatch,
        RejectCode::OfficerMismatch,
        RejectCode::IatInFuture,
        RejectCode::DepartmentMismatch,
        RejectCode::DepartmentRequired,
        RejectCode::InvalidPolicy,
        RejectCode::InvalidRoster,
        RejectCode::BadFormat,
        RejectCode::BadRange,
        RejectCode::Unauthorized,
        RejectCode::UnknownToken,
        RejectCode::BadSignature,
        RejectCode::UnknownDevice,
        RejectCode::Forbidden,
        RejectCode::Revoked,
        RejectCode::KeyRevoked,
        RejectCode::NotFound,
        RejectCode::UnknownOfficer,
        RejectCode::UnknownGroup,
        RejectCode::NoPolicy,
        RejectCode::NonceUnknown,
        RejectCode::NonceReused,
        RejectCode::NonceExpired,
        RejectCode::SeqNotIncreasing,
        RejectCode::OfflineTooOld,
        RejectCode::AlreadyRevoked,
        RejectCode::Conflict,
        RejectCode::KeyEnrolled,
        RejectCode::DeviceLimit,
        RejectCode::OfflineNotChained,
        RejectCode::OfflineRunExceeded,
        RejectCode::CounterNotIncreasing,
        RejectCode::TokenUsed,
        RejectCode::TokenExpired,
        RejectCode::TokenCancelled,
        RejectCode::TooLarge,
        RejectCode::RowsRejected,
        RejectCode::RateLimited,
        RejectCode::QuotaExceeded,
        RejectCode::Internal,
        RejectCode::ProtocolOutdated,
    ];

    /// The HTTP status this code is sent with.
    pub fn status(self) -> u16 {
        use RejectCode::*;
        match self {
            Malformed | UnsupportedVersion | UeidMismatch | OfficerMismatch | IatInFuture
            | DepartmentMismatch | DepartmentRequired | InvalidPolicy | InvalidRoster
            | BadFormat | BadRange => 400,
            Unauthorized | UnknownToken | BadSignature | UnknownDevice => 401,
            Forbidden | Revoked | KeyRevoked => 403,
            NotFound | UnknownOfficer | UnknownGroup => 404,
            NoPolicy | NonceUnknown | NonceReused | NonceExpired | SeqNotIncreasing
            | OfflineTooOld | AlreadyRevoked | Conflict | KeyEnrolled | DeviceLimit
            | OfflineNotChained | OfflineRunExceeded | CounterNotIncreasing => 409,
            TokenUsed | TokenExpired | TokenCancelled => 410,
            TooLarge => 413,
            RowsRejected => 422,
            RateLimited | QuotaExceeded => 429,
            Internal => 500,
            ProtocolOutdated => 426,
        }
    }

    /// The wire string (`error` field).
    pub fn as_str(self) -> &'static str {
        use RejectCode::*;
        match self {
            Malformed => "malformed",
            UnsupportedVersion => "unsupported_version",
            UeidMismatch => "ueid_mismatch",
            OfficerMismatch => "officer_mismatch",
            IatInFuture => "iat_in_future",
            DepartmentMismatch => "department_mismatch",
            DepartmentRequired => "department_required",
            InvalidPolicy => "invalid_policy",
            InvalidRoster => "invalid_roster",
            BadFormat => "bad_format",
            BadRange => "bad_range",
            Unauthorized => "unauthorized",
            UnknownToken => "unknown_token",
            BadSignature => "bad_signature",
            UnknownDevice => "unknown_device",
            Forbidden => "forbidden",
            Revoked => "revoked",
            KeyRevoked => "key_revoked",
            NotFound => "not_found",
            UnknownOfficer => "unknown_officer",
            UnknownGroup => "unknown_group",
            NoPolicy => "no_policy",
            NonceUnknown => "nonce_unknown",
            NonceReused => "nonce_reused",
            NonceExpired => "nonce_expired",
            SeqNotIncreasing => "seq_not_increasing",
            OfflineTooOld => "offline_too_old",
            AlreadyRevoked => "already_revoked",
            Conflict => "conflict",
            KeyEnrolled => "key_enrolled",
            DeviceLimit => "device_limit",
            OfflineNotChained => "offline_not_chained",
            OfflineRunExceeded => "offline_run_exceeded",
            CounterNotIncreasing => "counter_not_increasing",
            TokenUsed => "token_used",
            TokenExpired => "token_expired",
            TokenCancelled => "token_cancelled",
            TooLarge => "too_large",
            RowsRejected => "rows_rejected",
            RateLimited => "rate_limited",
            QuotaExceeded => "quota_exceeded",
            Internal => "internal",
            ProtocolOutdated => "protocol_outdated",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RejectCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown error code {s:?}"))
    }
}

/// One officer's line of `GET /v1/compliance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerCompliance {
    /// Registry id.
    pub officer_id: String,
    /// Name from the registry.
    pub name: String,
    /// Designation from the registry.
    pub designation: String,
    /// Email from the registry (the dashboard searches it).
    #[serde(default)]
    pub email: String,
    /// The group handles (phone numbers, `@usernames`) that the device the status is
    /// based on reported in its latest claims (the dashboard searches them).
    #[serde(default)]
    pub handles: Vec<String>,
    /// Entitled to the GR-funded phone (rule R2 applies).
    pub entitled: bool,
    /// The officer's status (design section 6).
    pub status: ComplianceStatus,
    /// The failing rules with their detail.
    pub failures: Vec<Failure>,
    /// The device the status is based on.
    pub device_id: Option<Uuid>,
    /// When the server last accepted an attestation from any of the officer's devices.
    pub last_seen: Option<u64>,
    /// Group memberships and how strongly each is established.
    pub evidence: Vec<GroupEvidence>,
    /// The platform of the device the status is based on.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// The assurance that device's evidence earns under the current policy.
    #[serde(default)]
    pub assurance: Option<Assurance>,
    /// What that device's platform evidence proved, in one line.
    #[serde(default)]
    pub device_evidence: Option<String>,
    /// When that evidence was checked (enrollment or re-attestation), Unix seconds.
    #[serde(default)]
    pub evidence_at: Option<u64>,
    /// The officer's unrevoked devices: more than one is flagged (a second phone must be
    /// allowed by IT's enrollment token, and is worth a look).
    #[serde(default)]
    pub active_devices: u32,
}

impl OfficerCompliance {
    /// Fills the device fields from an evaluation's proof.
    pub fn with_proof(mut self, proof: Option<&crate::policy::DeviceProof>) -> Self {
        self.platform = proof.map(|p| p.platform);
        self.assurance = proof.map(|p| p.assurance);
        self.device_evidence = proof.map(|p| p.evidence.clone());
        self.evidence_at = proof.map(|p| p.evidence_at);
        self
    }
}

/// A department's view (`GET /v1/compliance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceReport {
    /// The department reported on.
    pub department: String,
    /// When the view was computed, seconds since the Unix epoch.
    pub generated_at: u64,
    /// One line per officer of the registry.
    pub officers: Vec<OfficerCompliance>,
    /// Officers per status (every status present, zero included).
    pub summary: BTreeMap<String, u64>,
}

/// `GET /v1/compliance` with `page` or `per_page`: the department's report with
/// `officers` holding one page of the officers that match the query (the summary still
/// counts the whole department).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompliancePage {
    /// The report, `officers` cut to the page.
    #[serde(flatten)]
    pub report: ComplianceReport,
    /// Officers in the department.
    pub total: u64,
    /// Officers matching the search and filters.
    pub matched: u64,
    /// This page, from 1.
    pub page: u64,
    /// Officers per page.
    pub per_page: u64,
    /// Pages of matched officers (at least 1).
    pub pages: u64,
}

/// `GET /v1/whoami`: who the bearer token is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// `it`, `auditor` or `admin`.
    pub role: String,
    /// The department of an IT token; `None` for auditors and admins.
    pub department: Option<String>,
    /// The token's public label (as in logs), never the token.
    pub label: String,
}

/// `GET /v1/departments`: the departments the caller may read that have a policy or
/// officers (IT: its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departments {
    /// Department ids, sorted.
    pub departments: Vec<String>,
}

/// One accepted attestation of a device, for the officer view (`recent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentResult {
    /// The device's sequence number.
    pub seq: u64,
    /// When the server accepted it, Unix seconds.
    pub received_at: u64,
    /// The verdict recorded with it.
    pub verdict: Verdict,
    /// The rules it failed.
    pub failures: Vec<Failure>,
    /// Its leaf in the audit log.
    pub log_index: u64,
    /// It answered a fresh server challenge (`false`: an offline delivery).
    pub fresh_nonce: bool,
}

/// The latest accepted attestation of a device (`latest` in the officer view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestResult {
    /// The device's sequence number.
    pub seq: u64,
    /// When the device says it signed, Unix seconds.
    pub iat: u64,
    /// When the server accepted it, Unix seconds.
    pub received_at: u64,
    /// It answered a fresh server challenge.
    pub fresh_nonce: bool,
    /// The verdict recorded with it.
    pub verdict: Verdict,
    /// The rules it failed.
    pub failures: Vec<Failure>,
    /// Its leaf in the audit log.
    pub log_index: u64,
}

/// One device of an officer (`GET /v1/officers/{id}`, `devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerDevice {
    /// Server-assigned device id.
    pub device_id: Uuid,
    /// The platform it enrolled as.
    pub platform: Platform,
    /// The model it reported (not verified).
    pub model: String,
    /// The model its platform evidence attested, if any.
    pub attested_model: Option<String>,
    /// The assurance recorded when the evidence was last checked.
    pub assurance: Assurance,
    /// What the device's evidence proved.
    pub evidence: EvidenceSummary,
    /// Whole days since the evidence was checked, at the server's clock.
    pub evidence_age_days: u64,
    /// When it last answered a fresh server challenge, Unix seconds.
    pub last_fresh_at: Option<u64>,
    /// Offline check-ins accepted since then.
    pub offline_run: u32,
    /// The device public key (COSE_Key, base64url).
    pub public_key: String,
    /// Revoked by IT.
    pub revoked: bool,
    /// Why, as IT gave it.
    pub reason: Option<String>,
    /// Enrollment time, Unix seconds.
    pub enrolled_at: u64,
    /// Sequence number of the last accepted attestation.
    pub last_seq: Option<u64>,
    /// When its latest accepted attestation was received, Unix seconds.
    pub last_check_in: Option<u64>,
    /// Its latest accepted attestation.
    pub latest: Option<LatestResult>,
    /// Up to 10 latest accepted attestations, newest first.
    pub recent: Vec<RecentResult>,
}

/// The officer's status in the officer view (`compliance`): the report's line without
/// the registry fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerStatus {
    /// The officer's status (design section 6).
    pub status: ComplianceStatus,
    /// The failing rules with their detail.
    pub failures: Vec<Failure>,
    /// Group memberships and how strongly each is established.
    pub evidence: Vec<GroupEvidence>,
    /// The device the status rests on.
    pub device_id: Option<Uuid>,
    /// When that device last checked in, Unix seconds.
    pub last_seen: Option<u64>,
    /// Its platform.
    pub platform: Option<Platform>,
    /// The assurance its evidence earns under the current policy.
    pub assurance: Option<Assurance>,
    /// What its platform evidence proved, in one line.
    pub device_evidence: Option<String>,
    /// When that evidence was checked, Unix seconds.
    pub evidence_at: Option<u64>,
    /// The officer's unrevoked devices.
    #[serde(default)]
    pub active_devices: u32,
}

/// `GET /v1/officers/{id}`: the registry row, the status and every device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerView {
    /// The registry row.
    pub officer: Officer,
    /// Every device, revoked ones included, oldest enrollment first.
    pub devices: Vec<OfficerDevice>,
    /// The status; `None` while the department has no policy.
    pub compliance: Option<OfficerStatus>,
}

/// One device of `GET /v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceListEntry {
    /// Server-assigned device id.
    pub device_id: Uuid,
    /// The officer it was enrolled for.
    pub officer_id: String,
    /// The officer's name from the registry.
    pub officer_name: String,
    /// The platform it enrolled as.
    pub platform: Platform,
    /// The model it reported.
    pub model: String,
    /// The assurance recorded when its evidence was last checked.
    pub assurance: Assurance,
    /// Enrollment time, Unix seconds.
    pub enrolled_at: u64,
    /// When its latest accepted attestation was received, Unix seconds.
    pub last_check_in: Option<u64>,
    /// Revoked by IT.
    pub revoked: bool,
    /// Why, as IT gave it.
    pub reason: Option<String>,
    /// When its evidence was checked, Unix seconds.
    pub evidence_at: u64,
    /// Whole days since then, at the server's clock.
    pub evidence_age_days: u64,
    /// The device protocol of its latest accepted check-in (`1`: the previous app
    /// release, which the server refuses after its `previous_protocol_until`; `2`: this
    /// one); absent before the first check-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u32>,
}

/// `GET /v1/devices?department=D&status=S`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    /// The department listed.
    pub department: String,
    /// When the list was made, Unix seconds.
    pub generated_at: u64,
    /// The devices, by officer id then enrollment time.
    pub devices: Vec<DeviceListEntry>,
}

/// Which devices `GET /v1/devices` lists (`status=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatusFilter {
    /// Unrevoked devices (the default).
    #[default]
    Active,
    /// Revoked devices.
    Revoked,
    /// Every device.
    All,
}

impl DeviceStatusFilter {
    /// The wire name: `active`, `revoked` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatusFilter::Active => "active",
            DeviceStatusFilter::Revoked => "revoked",
            DeviceStatusFilter::All => "all",
        }
    }

    /// Whether a device that is `revoked` or not is listed.
    pub fn admits(self, revoked: bool) -> bool {
        match self {
            DeviceStatusFilter::Active => !revoked,
            DeviceStatusFilter::Revoked => revoked,
            DeviceStatusFilter::All => true,
        }
    }
}

impl std::str::FromStr for DeviceStatusFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Active, Self::Revoked, Self::All]
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("status {s:?} (expected active, revoked or all)"))
    }
}

/// `POST /v1/enrollment-tokens` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollTokenRequest {
    /// The officer the phone will be enrolled for.
    pub officer_id: String,
    /// Allow the enrollment although the officer has an active device (a second phone;
    /// otherwise the old one must be revoked first).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_additional: bool,
    /// The token's life, seconds, within [`ENROLL_TOKEN_TTL_MIN`]..=[`ENROLL_TOKEN_TTL_MAX`];
    /// absent: the server's `enrollment_token_ttl_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// Shortest life of an enrollment token, seconds (5 minutes: time to scan a QR code).
pub const ENROLL_TOKEN_TTL_MIN: u64 = 5 * 60;
/// Longest life of an enrollment token, seconds (30 days: an unused token is a secret
/// lying around).
pub const ENROLL_TOKEN_TTL_MAX: u64 = 30 * 86_400;

/// Checks an enrollment token's life against [`ENROLL_TOKEN_TTL_MIN`] and
/// [`ENROLL_TOKEN_TTL_MAX`]; the error says the bounds.
pub fn check_enroll_token_ttl(secs: u64) -> Result<u64, String> {
    if (ENROLL_TOKEN_TTL_MIN..=ENROLL_TOKEN_TTL_MAX).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "an enrollment token lives between 5 minutes and 30 days ({ENROLL_TOKEN_TTL_MIN}..={ENROLL_TOKEN_TTL_MAX} s), not {secs} s"
        ))
    }
}

/// A bearer token as `GET /v1/tokens` and `pramaan admin tokens list` show it: never its
/// secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public id: the first 8 hex digits of the token's SHA-256 (its log label is
    /// `role:id`).
    pub id: String,
    /// Readable name (`it-GAD-2026-11-29`); absent for tokens made before names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `it`, `auditor` or `admin`.
    pub role: String,
    /// The department of an IT token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Who made it (a token label, or `admin-cli`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Refused from this time on; absent: never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// Who revoked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

/// `POST /v1/tokens` body (an admin mints a bearer token over the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintTokenRequest {
    /// `it`, `auditor` or `admin`.
    pub role: String,
    /// The department of an IT token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Mint an IT token for a department with no policy or officer yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_department: bool,
    /// A readable name (default `<role>[-<department>]-<date>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Life in seconds; absent: never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
}

/// `POST /v1/tokens` answer: the token, shown this once, and how it is listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintedToken {
    /// The bearer token itself; the server keeps only its hash.
    pub token: String,
    /// The token as `GET /v1/tokens` lists it.
    pub info: TokenInfo,
}

/// `GET /v1/tokens` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    /// Every bearer token, oldest first.
    pub tokens: Vec<TokenInfo>,
}

/// Where an enrollment token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollTokenState {
    /// Unused, uncancelled and unexpired: whoever holds it can enroll.
    Outstanding,
    /// It enrolled a device.
    Used,
    /// IT cancelled it.
    Cancelled,
    /// Its time ran out unused.
    Expired,
}

impl EnrollTokenState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outstanding => "outstanding",
            Self::Used => "used",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

/// An enrollment token as `GET /v1/enrollment-tokens` lists it (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollTokenInfo {
    /// Public id: the first 16 hex digits of the token's SHA-256 (the audit log's
    /// `EnrollTokenIssued` entry records the whole hash).
    pub id: String,
    /// The officer it enrolls a phone for.
    pub officer_id: String,
    /// The officer's department.
    pub department: String,
    /// Where it stands.
    pub state: EnrollTokenState,
    /// Issue time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Label of the token that issued it.
    pub created_by: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
    /// May enroll a second active device.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_additional: bool,
    /// When it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<u64>,
    /// Who cancelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

/// `GET /v1/enrollment-tokens` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollTokenList {
    /// The tokens, newest first.
    pub tokens: Vec<EnrollTokenInfo>,
}

/// `POST /v1/enrollment-tokens` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollTokenResponse {
    /// The `pramaan://enroll` URI (holds the one-time token and the server's pin).
    pub uri: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
    /// The officer it is for.
    pub officer_id: String,
    /// Its public id (first 16 hex digits of its SHA-256), for `pramaan enroll-token
    /// cancel`; empty from servers before ids.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
}

/// `POST /v1/devices/{id}/revoke` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeRequest {
    /// Why (logged and shown to IT).
    pub reason: String,
}

/// `POST /v1/officers/import` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Rows written: added, updated, moved and reinstated (0 in a dry run and in a
    /// refused import).
    pub imported: u64,
    /// Every refused row with its line, field and reason. Line 0: refused for the whole
    /// file's scope (for example another department's officer); the reason names the
    /// officer.
    pub rejected: Vec<RowError>,
    /// New officers.
    #[serde(default)]
    pub added: u64,
    /// Officers whose row changed (same department).
    #[serde(default)]
    pub updated: u64,
    /// Officers whose row is already exactly as imported (not written again).
    #[serde(default)]
    pub unchanged: u64,
    /// Officers moved to another department by their row (admin; devices follow).
    #[serde(default)]
    pub moved: u64,
    /// Retired officers imported again, so serving again.
    #[serde(default)]
    pub reinstated: u64,
    /// What was accepted but looks wrong (an email off the department policy's
    /// `email_domains`).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Only validated and counted (`?dry_run=true`): nothing was written or logged.
    #[serde(default)]
    pub dry_run: bool,
}

/// `PUT /v1/departments/{d}/groups/{g}/roster` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterReport {
    /// The department.
    pub department: String,
    /// The group's messaging platform (from the policy).
    pub platform: String,
    /// The group id.
    pub group: String,
    /// Handles now on the roster (duplicates counted once).
    pub handles: u64,
    /// Rows of the upload dropped because they repeat a handle (after normalization).
    #[serde(default)]
    pub duplicates: u64,
}

/// `PUT /v1/evidence/status-list` answer: the revocation status list now in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListInstalled {
    /// How many certificates the list names.
    pub entries: u64,
    /// When the copy was fetched from Google, Unix seconds.
    pub fetched_at: u64,
    /// When it was installed, Unix seconds.
    pub imported_at: u64,
}

/// `GET /v1/evidence/status-list` answer: the revocation status list in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListInfo {
    /// How many certificates the list names.
    pub entries: u64,
    /// When the copy was fetched from Google, Unix seconds.
    pub fetched_at: u64,
    /// When it was installed, Unix seconds.
    pub imported_at: u64,
    /// Whole days since it was fetched, at the server's clock (0 when the fetch time is
    /// a little ahead of it).
    pub age_days: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_reason_survives_the_refusal_message() {
        assert_eq!(revoked_message(None), REVOKED_MESSAGE);
        assert_eq!(revoked_message(Some("  ")), REVOKED_MESSAGE);
        let m = revoked_message(Some("phone reported lost"));
        assert_eq!(
            m,
            "this device was revoked by department IT: phone reported lost"
        );
        assert_eq!(revocation_reason(&m), Some("phone reported lost"));
        assert_eq!(revocation_reason(REVOKED_MESSAGE), None);
        assert_eq!(revocation_reason("this device has been revoked"), None);
    }

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for c in RejectCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(c.as_str().parse::<RejectCode>(), Ok(c));
            let json = serde_json::to_string(&c).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert!((400..=599).contains(&c.status()), "{c}");
        }
        assert!("officer_unknown".parse::<RejectCode>().is_err());
        assert_eq!(RejectCode::NonceReused.status(), 409);
        assert_eq!(RejectCode::TokenUsed.status(), 410);
        assert_eq!(RejectCode::UnknownDevice.status(), 401);
    }
}
