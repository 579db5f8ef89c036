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
    /// 413: the body is over the limit.
    TooLarge,
    /// 429: too many requests from this client.
    RateLimited,
    /// 429: the device reached its department policy's `[limits]` (attestations or
    /// offline deliveries accepted in 24 hours); `Retry-After` says when a slot frees.
    /// Nothing was recorded; the device keeps its token and tries again then.
    QuotaExceeded,
    /// 500: the server failed; nothing was recorded.
    Internal,
}

impl RejectCode {
    /// Every code, for documentation and tests.
    pub const ALL: [RejectCode; 40] = [
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
        RejectCode::TooLarge,
        RejectCode::RateLimited,
        RejectCode::QuotaExceeded,
        RejectCode::Internal,
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
            TokenUsed | TokenExpired => 410,
            TooLarge => 413,
            RateLimited | QuotaExceeded => 429,
            Internal => 500,
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
            TooLarge => "too_large",
            RateLimited => "rate_limited",
            QuotaExceeded => "quota_exceeded",
            Internal => "internal",
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
    /// Rows saved (added or updated).
    pub imported: u64,
    /// Every refused row with its reason. Line 0: refused for the whole file's scope (for
    /// example another department's officer); the reason names the officer.
    pub rejected: Vec<RowError>,
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
