//! The device agent: enrollment, check-ins, and the offline outbox (design section 5).
//!
//! One [`Agent`] per state directory. It is blocking and thread-free on purpose (no tokio
//! on the phone): the platform layer calls it from a background job (WorkManager,
//! BGTaskScheduler) and every call runs to completion or fails with an [`AgentError`].
//!
//! Durability rules, in the order a check-in applies them:
//! 1. the sequence number is saved in `state.json` *before* the signed attestation leaves
//!    the agent, so a crash can never make the agent reuse a number with other content;
//! 2. queued attestations are written to the [`outbox`] (one fsynced file per sequence
//!    number) before `check_in` returns `Queued`;
//! 3. an outbox entry is removed only after a verified server result for it, or after the
//!    server refused it for good (409 "seq not increasing" means it was delivered before).
//!
//! Limits: a `429` with `Retry-After` (the device reached its department policy's daily
//! limit, `quota_exceeded`, or the server is shedding load) refuses nothing for good. The
//! agent keeps the token (an online one is re-signed offline and queued, as for any
//! transient failure), remembers when to come back, and until then queues check-ins
//! without contacting the server, so a limited phone does not hammer it.
//!
//! Nonces: a queued attestation carries **no** nonce. A server nonce lives 10 minutes, so a
//! token that waited in the outbox with one would be refused as expired; an offline
//! attestation is instead accepted within the server's offline window and capped at
//! `warning` (design section 5 item 5). When an online send fails in a transient way, the
//! agent therefore re-signs the same facts as an offline attestation under the *next*
//! sequence number and queues that (the online one may or may not have arrived; both have
//! distinct numbers, so nothing is counted twice or overwritten). One exception: a `200`
//! whose answer does not verify (signed by an answer key this agent cannot reach through
//! the answer's chain of endorsements, [`answer_keys`]) means the server recorded that very
//! token, so the token itself is kept in the outbox; sent again, the server says it has it
//! (`409 seq_not_increasing`) and it leaves the outbox as delivered.

pub mod answer_keys;
pub mod facts;
pub mod outbox;
pub mod pins;
pub mod plan;
pub mod preview;
pub mod screen;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::api::RejectCode;
use crate::claims::{
    self, Assurance, AttestResult, Attestation, Challenge, DeviceInfo, EnrollRequest, ErrorBody,
    Evidence, Failure, Receipt, Verdict,
};
use crate::cose::{self, CoseError, DEVICE_CONTENT_TYPE, Sign1};
use crate::enroll_uri::{EnrollmentUri, UriError};
use crate::keys::{KeyError, Signer};
use crate::model::{ComplianceStatus, Platform, Policy};
use crate::policy::{self, DeviceState, Officer};
use crate::transport::{self, HttpsClient, Response, TransportError, Trust};

pub use facts::{Facts, FactsError, FactsProvider};
pub use outbox::{Outbox, OutboxError};
pub use preview::EnrollmentPreview;
pub use state::{LocalEvaluation, Revocation, State, StateError};

/// A stored nonce older than this is not used; the agent asks for a fresh one (the
/// server's nonces live 10 minutes; one minute of margin for clock and transit).
pub const NONCE_MAX_AGE_SECS: u64 = 9 * 60;

/// Why an agent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server's TLS key matches no pin this phone trusts: it changed and the phone
    /// missed the changeover ([`pins::KEY_CHANGED`] says what to do).
    #[error("{}", pins::KEY_CHANGED)]
    ServerKeyChanged,
    /// Check-in or flush before enrollment (no `state.json`).
    #[error("this device is not enrolled")]
    NotEnrolled,
    /// `enroll` on a device that has a state; holds its device id.
    #[error("this device is already enrolled as {0}")]
    AlreadyEnrolled(Uuid),
    /// The enrollment URI was refused.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// The server could not be reached or spoke no usable HTTP.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The platform layer's facts were refused; holds why.
    #[error("device facts: {0}")]
    Facts(String),
    /// The signer failed or its key is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The signer's public key is not the one in `state.json`.
    #[error("the signer's key is not the key this device enrolled")]
    KeyMismatch,
    /// Signing failed, or a server answer's COSE_Sign1 did not verify.
    #[error(transparent)]
    Cose(#[from] CoseError),
    /// The server refused the device as revoked by department IT; holds IT's reason if the
    /// server gave one. The agent has recorded it ([`AgentStatus::revoked`]).
    #[error("{}; {}", crate::api::revoked_message(.reason.as_deref()), policy::remedy::NEW_QR_CODE)]
    Revoked {
        /// IT's reason, if any.
        reason: Option<String>,
    },
    /// The server answered with an error body.
    #[error("the server refused ({status} {code}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The rejection code (the `error` field, e.g. `nonce_reused`).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// An answer the agent cannot accept (undecodable, for another device or seq); says why.
    #[error("the server's answer is not acceptable: {0}")]
    BadAnswer(String),
    /// `state.json` could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The outbox could not be read or written.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The platform could not produce its key evidence (Keystore attestation, App
    /// Attest); holds its message.
    #[error("platform evidence: {0}")]
    Evidence(String),
}

impl From<FactsError> for AgentError {
    fn from(e: FactsError) -> Self {
        AgentError::Facts(e.to_string())
    }
}

impl AgentError {
    /// Whether the operation may succeed later without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            AgentError::Transport(e) => e.is_transient(),
            AgentError::Rejected { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Outcome of a successful enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The id the server assigned to this device.
    pub device_id: Uuid,
    /// The officer the enrollment token was issued for.
    pub officer_id: String,
    /// The officer's department code.
    pub department: String,
    /// Whether the server accepted the key as hardware-backed.
    pub assurance: Assurance,
}

/// Outcome of a check-in.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckIn {
    /// The server verified this attestation and answered.
    Delivered {
        /// The attestation's sequence number.
        seq: u64,
        /// The signed attestation (COSE_Sign1) as sent.
        token: Vec<u8>,
        /// The server's verified result.
        result: AttestResult,
        /// What the agent computed on the device for the same facts.
        local: LocalEvaluation,
        /// Older queued attestations delivered first in this call.
        flushed: usize,
    },
    /// The server could not be reached: the attestation waits in the outbox.
    Queued {
        /// The attestation's sequence number.
        seq: u64,
        /// The signed attestation (COSE_Sign1), without a nonce, as queued.
        token: Vec<u8>,
        /// Entries in the outbox now, this one included.
        pending: usize,
        /// What the agent computed on the device for the same facts.
        local: LocalEvaluation,
    },
}

impl CheckIn {
    /// The sequence number of this check-in's attestation.
    pub fn seq(&self) -> u64 {
        match self {
            CheckIn::Delivered { seq, .. } | CheckIn::Queued { seq, .. } => *seq,
        }
    }

    /// The signed attestation (COSE_Sign1).
    pub fn token(&self) -> &[u8] {
        match self {
            CheckIn::Delivered { token, .. } | CheckIn::Queued { token, .. } => token,
        }
    }

    /// The agent's own evaluation of this check-in.
    pub fn local(&self) -> &LocalEvaluation {
        match self {
            CheckIn::Delivered { local, .. } | CheckIn::Queued { local, .. } => local,
        }
    }
}

/// What the agent knows about itself (the default: not enrolled, nothing queued).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentStatus {
    /// Whether `state.json` exists; every `Option` below is `None` when not.
    pub enrolled: bool,
    /// The id the server assigned at enrollment.
    pub device_id: Option<Uuid>,
    /// The officer the device is enrolled for.
    pub officer_id: Option<String>,
    /// The officer's department code.
    pub department: Option<String>,
    /// The server URL from the enrollment URI.
    pub server: Option<String>,
    /// Key assurance granted at enrollment.
    pub assurance: Option<Assurance>,
    /// Highest sequence number used so far (0 before enrollment).
    pub last_seq: u64,
    /// The server's answer to the last delivered attestation.
    pub last_result: Option<AttestResult>,
    /// The agent's own evaluation at the last check-in.
    pub last_local: Option<LocalEvaluation>,
    /// Attestations waiting in the outbox.
    pub pending: usize,
    /// Outbox entries the server refused for good and that were dropped.
    pub dropped: u64,
    /// The server asked for fresh platform evidence at the next online check-in.
    pub reattest_requested: bool,
    /// Department IT revoked this device (the server said so at the last contact).
    pub revoked: Option<Revocation>,
    /// The enrolled platform (what the hints name: Play Store or App Store).
    pub platform: Option<Platform>,
    /// The department policy from enrollment (what the hints name: groups, domains, apps).
    pub policy: Option<Policy>,
    /// When the last check-in was made (the last local evaluation's time, whether the
    /// attestation was delivered or queued), seconds since the epoch.
    pub last_check_in_at: Option<u64>,
    /// The server's `Retry-After` deadline (seconds since the epoch); 0 when none.
    pub retry_at: u64,
    /// The enrolled policy's `check_in_hours` (0 when not enrolled).
    pub check_in_hours: u32,
    /// The enrolled policy's `limits.attestations_per_day` (0 when not enrolled).
    pub attestations_per_day: u32,
}

impl AgentStatus {
    /// The officer's word for the device now: `revoked`, `not enrolled`, or the last
    /// server result's (else the device's own evaluation's) `compliant`, `warning` or
    /// `noncompliant`; `unknown` before any check-in.
    pub fn word(&self) -> &'static str {
        if !self.enrolled {
            return "not enrolled";
        }
        if self.revoked.is_some() {
            return ComplianceStatus::Revoked.as_str();
        }
        self.last_result
            .as_ref()
            .map(|r| r.status)
            .or(self.last_local.as_ref().map(|l| l.verdict))
            .map_or("unknown", |v| ComplianceStatus::from(v).as_str())
    }

    /// What to do about the device as a whole, when it cannot check in: enroll (again)
    /// with a new QR code when it is not enrolled or was revoked.
    pub fn hint(&self) -> Option<&'static str> {
        (!self.enrolled || self.revoked.is_some()).then_some(policy::remedy::NEW_QR_CODE)
    }

    /// The officer's next step for `failure` ([`policy::remedy`] under the enrolled
    /// policy and platform).
    pub fn remedy(&self, failure: &Failure) -> String {
        match &self.policy {
            Some(p) => policy::remedy(failure, p, self.platform.unwrap_or(Platform::Android)),
            None => policy::remedy::NEW_QR_CODE.into(),
        }
    }
}

/// Where platform evidence comes from: the phone's platform layer (Android Keystore key
/// attestation, iOS App Attest). Both calls get the server's nonce, which the evidence
/// must bind.
pub trait EvidenceSource: Send + Sync {
    /// Evidence for the device key at enrollment, bound to `challenge` (Android: the
    /// device key's attestation chain, made with `challenge` as attestation challenge;
    /// iOS: `attestKey` over `challenge || COSE_Key(device key)`). `None`: none to give.
    /// It may replace the not-yet-enrolled device key (Android can attest a key only with
    /// the challenge it was made with): the agent reads the signer's public key again
    /// after this call and enrolls that one.
    fn key_evidence(
        &self,
        challenge: &[u8],
        device_key: &crate::keys::P256PublicKey,
    ) -> Result<Option<Evidence>, AgentError>;
    /// Fresh evidence when the server asks for it (re-attestation), bound to `challenge`
    /// (Android: a new short-lived key attested with `challenge`; iOS: an App Attest
    /// assertion over SHA-256(`challenge`)). `None`: none to give.
    fn fresh_evidence(&self, challenge: &[u8]) -> Result<Option<Evidence>, AgentError>;
}

/// The desktop agent's evidence: none. Its key is a software key, so it can only answer
/// a re-attestation request without evidence (and says so in the log).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvidence;

impl EvidenceSource for NoEvidence {
    fn key_evidence(
        &self,
        _challenge: &[u8],
        _device_key: &crate::keys::P256PublicKey,
    ) -> Result<Option<Evidence>, AgentError> {
        Ok(None)
    }

    fn fresh_evidence(&self, _challenge: &[u8]) -> Result<Option<Evidence>, AgentError> {
        log::info!(
            "the server asked for fresh evidence; this agent has a software key and no platform evidence, so it answers without any"
        );
        Ok(None)
    }
}

/// The device agent bound to one state directory and one signer.
pub struct Agent {
    dir: PathBuf,
    signer: Arc<dyn Signer>,
    evidence: Arc<dyn EvidenceSource>,
    options: transport::Options,
    outbox: Outbox,
    /// Serializes operations of this process on the state directory. The facts provider
    /// is asked outside it, since a platform's provider may call back into the agent
    /// (`status`, the enrolled policy's apps); the signer and the evidence source are
    /// asked under it and must not call the agent.
    lock: Mutex<()>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What one delivery attempt of a signed token came to.
enum Delivery {
    /// Accepted; with the newer answer key the answer was signed by, if it was.
    Accepted(AttestResult, Option<[u8; 32]>),
    /// Refused for good; `already` is true for 409 (delivered before).
    Refused { status: u16, body: ErrorBody },
    /// Try later.
    Transient(String),
    /// The server's key matches no trusted pin (its TLS key changed).
    KeyChanged(TransportError),
    /// The server answered 200 (it recorded the token) but the answer does not verify
    /// (an answer key this agent cannot follow, [`answer_keys`]): the token is kept and
    /// sent again later, when the server says it has it (409 `seq_not_increasing`) and
    /// the agent can verify the next answer.
    Unverifiable(String),
    /// 429 with `Retry-After`: try again after `secs` seconds, not before.
    Wait {
        /// The rejection code (e.g. `quota_exceeded`).
        code: String,
        /// Seconds to wait.
        secs: u64,
    },
}

use crate::times::now;

fn error_body(resp: &Response) -> ErrorBody {
    claims::decode::<ErrorBody>(&resp.body).unwrap_or_else(|_| ErrorBody {
        error: format!("http_{}", resp.status),
        message: String::from_utf8_lossy(&resp.body)
            .chars()
            .take(200)
            .collect(),
    })
}

fn rejected(resp: &Response) -> AgentError {
    let body = error_body(resp);
    AgentError::Rejected {
        status: resp.status,
        code: body.error,
        message: body.message,
    }
}

impl Agent {
    /// Opens the agent on `state_dir` with default transport options. Nothing is written
    /// until an enrollment succeeds (the directory is created then if missing).
    pub fn open(state_dir: &Path, signer: Arc<dyn Signer>) -> Result<Self, AgentError> {
        Self::open_with(state_dir, signer, transport::Options::default())
    }

    /// [`Agent::open`] with explicit transport options (timeouts, retries).
    pub fn open_with(
        state_dir: &Path,
        signer: Arc<dyn Signer>,
        options: transport::Options,
    ) -> Result<Self, AgentError> {
        // Nothing is created here: the directory, `state.json` and the outbox appear when
        // an enrollment succeeds, so a failed one leaves the directory as it was.
        let outbox = Outbox::open(state_dir)?;
        // Fail early on a corrupt state file rather than at the first check-in.
        State::load(state_dir)?;
        state::remove_stale_temp_files(state_dir);
        Ok(Self {
            dir: state_dir.to_path_buf(),
            signer,
            evidence: Arc::new(NoEvidence),
            options,
            outbox,
            lock: Mutex::new(()),
        })
    }

    /// Uses `source` for platform evidence (the phone's platform layer); without it the
    /// agent has none ([`NoEvidence`], the desktop agent).
    pub fn with_evidence(mut self, source: Arc<dyn EvidenceSource>) -> Self {
        self.evidence = source;
        self
    }

    /// The state directory (holds `state.json` and `outbox/`).
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enrolled_state(&self) -> Result<State, AgentError> {
        let mut st = State::load(&self.dir)?.ok_or(AgentError::NotEnrolled)?;
        // Never reuse a number an outbox entry already carries, whatever the state says.
        if let Some(max) = self.outbox.max_seq()?
            && max > st.last_seq
        {
            st.last_seq = max;
        }
        let pk = hex::encode(self.signer.public_key()?.as_sec1());
        if pk != st.public_key {
            return Err(AgentError::KeyMismatch);
        }
        Ok(st)
    }
}

/// The offline anchor for a nonce the server sent: its SHA-256, hex.
fn anchor_of(nonce: &[u8]) -> Option<String> {
    (!nonce.is_empty()).then(|| hex::encode(ring::digest::digest(&ring::digest::SHA256, nonce)))
}

impl Agent {
    fn client(&self, st: &State) -> Result<HttpsClient, AgentError> {
        let trust = pins::trust(st)?;
        Ok(HttpsClient::new(&st.server, trust, self.options.clone())?)
    }

    /// Enrolls with the server named in `uri` (design section 5 items 1-3). An enrolled
    /// phone is refused ([`AgentError::AlreadyEnrolled`]) unless department IT revoked
    /// it: then IT's new QR code enrolls it again, as a new device, and the revoked
    /// enrollment and its queued check-ins are dropped once the server accepted.
    pub fn enroll(
        &self,
        uri: &str,
        facts: &dyn FactsProvider,
        evidence: Option<Evidence>,
    ) -> Result<Enrollment, AgentError> {
        // The facts first, outside the lock: the platform's provider may call back into
        // this agent (its status, the enrolled policy's apps) while it reads them.
        let facts = facts.facts()?;
        let _g = self.guard();
        // A phone IT revoked enrolls again with IT's new QR code (and a new key: the
        // server refuses a revoked device's key); any other enrolled phone is refused.
        let replaces = match State::load(&self.dir)? {
            Some(st) if st.revoked.is_none() && !pins::may_enroll_again(&st, uri) => {
                return Err(AgentError::AlreadyEnrolled(st.device_id));
            }
            Some(st) => Some(st.device_id),
            None => None,
        };
        let uri = EnrollmentUri::parse(uri)?;
        facts.validate()?;
        let public_key = self.signer.public_key()?;
        // The token travels in the Authorization header, outside the signed request (which
        // the audit log keeps): the request carries only its SHA-256.
        let client = HttpsClient::new(&uri.server, Trust::Pin(uri.pin), self.options.clone())?
            .with_bearer(uri.token.trim());
        let challenge = fetch_challenge(&client)?;
        let evidence = match evidence {
            Some(e) => Some(e),
            None => self.evidence.key_evidence(&challenge.nonce, &public_key)?,
        };
        // Read the key again: the evidence source may have replaced it (Android attests a
        // key only with the challenge it was made with, so its platform layer makes the
        // device key now, with this nonce). The request names, and is signed by, the key
        // the evidence is for.
        let public_key = self.signer.public_key()?;
        let req = EnrollRequest {
            v: claims::Protocol::CURRENT.number(),
            token_hash: claims::enroll_token_hash(&uri.token).to_vec(),
            nonce: challenge.nonce,
            key: public_key.to_cose_key_bytes(),
            platform: facts.platform,
            device: DeviceInfo {
                model: facts.model.clone(),
                os: facts.os().name,
                os_version: facts.os_version.clone(),
            },
            evidence,
        };
        req.check_text()
            .map_err(|e| AgentError::Facts(e.to_string()))?;
        let signed = cose::sign_es256(self.signer.as_ref(), b"", claims::encode(&req))?;
        let resp = client.post("/v1/enroll", DEVICE_CONTENT_TYPE, &signed)?;
        if !resp.is_success() {
            return Err(rejected(&resp));
        }
        let sign1 = Sign1::parse(&resp.body)?;
        let receipt: Receipt = claims::decode(sign1.unverified_payload())
            .map_err(|e| AgentError::BadAnswer(format!("receipt: {e}")))?;
        let server_key = match receipt.server_key.as_deref() {
            Some(key) => {
                let key: [u8; 32] = key
                    .try_into()
                    .map_err(|_| AgentError::BadAnswer("server key is not 32 bytes".into()))?;
                sign1.verify_eddsa(&key, None)?;
                Some(hex::encode(key))
            }
            None => {
                log::warn!(
                    "the receipt names no server key: results will be trusted on the pinned TLS channel only"
                );
                None
            }
        };
        // Accepted: only now does anything reach the state directory (the key first,
        // if its signer keeps it in a file, then the state naming it).
        std::fs::create_dir_all(&self.dir).map_err(|source| StateError::Io {
            path: self.dir.display().to_string(),
            source,
        })?;
        self.signer.keep()?;
        if let Some(old) = replaces {
            // The revoked enrollment's queued check-ins name its device: the server
            // refuses them, so they go with it.
            for entry in self.outbox.list()? {
                self.outbox.remove(&entry)?;
            }
            log::info!(
                "re-enrolled: device {old} (revoked by IT, or its server's key changed) is replaced"
            );
        }
        let mut st = State {
            version: state::STATE_VERSION,
            device_id: receipt.device_id,
            officer_id: receipt.officer_id.clone(),
            department: receipt.department.clone(),
            server: uri.server.clone(),
            pin: transport::b64url(&uri.pin),
            server_key,
            public_key: hex::encode(public_key.as_sec1()),
            platform: facts.platform,
            model: facts.model.clone(),
            assurance: receipt.assurance,
            evidence: receipt.evidence.unwrap_or_default(),
            policy: receipt.policy,
            next_nonce: Some(hex::encode(&receipt.next_nonce)).filter(|n| !n.is_empty()),
            anchor: anchor_of(&receipt.next_nonce),
            nonce_received_at: now(),
            last_seq: 0,
            last_result: None,
            last_local: None,
            dropped: 0,
            reattest_requested: false,
            retry_at: 0,
            revoked: None,
            pin_change: pins::PinChange::default(),
        };
        let verified = st.server_key.is_some();
        pins::after_answer(&mut st, receipt.next_pin.as_ref(), verified, None);
        st.save(&self.dir)?;
        log::info!(
            "enrolled as device {} of officer {} ({})",
            st.device_id,
            st.officer_id,
            st.department
        );
        Ok(Enrollment {
            device_id: st.device_id,
            officer_id: st.officer_id,
            department: st.department,
            assurance: st.assurance,
        })
    }

    /// One check-in: evaluate locally, deliver queued attestations, then this one; queue it
    /// if the server cannot be reached.
    pub fn check_in(&self, facts: &dyn FactsProvider) -> Result<CheckIn, AgentError> {
        // The facts first, outside the lock: the platform's provider may call back into
        // this agent (its status, the enrolled policy's apps) while it reads them.
        let facts = facts.facts()?;
        let _g = self.guard();
        let mut st = self.enrolled_state()?;
        let result = self.check_in_locked(&mut st, &facts);
        result.map_err(|e| pins::on_error(&self.dir, &mut st, e))
    }

    fn check_in_locked(&self, st: &mut State, facts: &Facts) -> Result<CheckIn, AgentError> {
        facts.validate()?;
        if now() < st.retry_at {
            log::info!(
                "the server asked to wait until {} before sending more; queueing",
                st.retry_at
            );
            return self.queue(st, facts);
        }
        let client = self.client(st)?;

        let flushed = match self.flush_locked(st, &client) {
            Ok(n) => n,
            Err(e) if e.is_transient() => {
                log::info!("server unreachable while flushing the outbox ({e}); queueing");
                return self.queue(st, facts);
            }
            Err(e) => return Err(e),
        };

        // Online: a fresh nonce, then one signed attestation.
        let mut retried = false;
        loop {
            let nonce = match self.fresh_nonce(st, &client) {
                Ok(n) => n,
                Err(e) if e.is_transient() => {
                    log::info!("no fresh nonce ({e}); queueing");
                    return self.queue(st, facts);
                }
                Err(e) => return Err(e),
            };
            let (seq, token, local) = self.sign_next(st, facts, Some(nonce))?;
            match self.deliver(st, &client, seq, &token) {
                Delivery::Accepted(result, new_key) => {
                    self.record_result(st, &result, true, new_key, client.peer_pin())?;
                    return Ok(CheckIn::Delivered {
                        seq,
                        token,
                        result,
                        local,
                        flushed,
                    });
                }
                Delivery::Transient(why) => {
                    log::info!("attestation {seq} not delivered ({why}); queueing offline");
                    return self.queue(st, facts);
                }
                Delivery::KeyChanged(e) => return Err(e.into()),
                Delivery::Unverifiable(why) => {
                    // Not re-signed offline: the server holds this one and moved its
                    // offline anchor past what this agent knows.
                    self.outbox.push(seq, &token)?;
                    let pending = self.outbox.len()?;
                    log::warn!("attestation {seq} kept in the outbox ({why}); {pending} waiting");
                    return Ok(CheckIn::Queued {
                        seq,
                        token,
                        pending,
                        local,
                    });
                }
                Delivery::Wait { code, secs } => {
                    log::info!(
                        "attestation {seq} refused for now ({code}); waiting {secs} s, queueing offline"
                    );
                    self.wait(st, secs)?;
                    return self.queue(st, facts);
                }
                // A 409 on a fresh attestation means the nonce was refused (expired,
                // used): fetch another one once.
                Delivery::Refused { status: 409, body } if !retried => {
                    log::info!(
                        "attestation {seq} refused ({}); retrying with a new nonce",
                        body.error
                    );
                    retried = true;
                }
                Delivery::Refused { status, body } => {
                    return Err(self.refused(st, status, body));
                }
            }
        }
    }

    /// Delivers queued attestations, oldest first; returns how many left the outbox.
    pub fn flush_outbox(&self) -> Result<usize, AgentError> {
        let _g = self.guard();
        let mut st = self.enrolled_state()?;
        let t = now();
        if t < st.retry_at && !self.outbox.is_empty()? {
            return Err(AgentError::Rejected {
                status: 429,
                code: RejectCode::QuotaExceeded.as_str().into(),
                message: format!(
                    "not sent: the server asked to wait {} more seconds",
                    st.retry_at - t
                ),
            });
        }
        let client = self.client(&st)?;
        let result = self.flush_locked(&mut st, &client);
        result.map_err(|e| pins::on_error(&self.dir, &mut st, e))
    }

    /// Number of attestations waiting in the outbox.
    pub fn pending(&self) -> Result<usize, AgentError> {
        Ok(self.outbox.len()?)
    }

    /// What the agent knows about itself now; works before enrollment too.
    pub fn status(&self) -> Result<AgentStatus, AgentError> {
        let _g = self.guard();
        let pending = self.outbox.len()?;
        Ok(match State::load(&self.dir)? {
            None => AgentStatus {
                pending,
                ..AgentStatus::default()
            },
            Some(st) => AgentStatus {
                enrolled: true,
                last_check_in_at: st.last_local.as_ref().map(|l| l.at),
                retry_at: st.retry_at,
                check_in_hours: st.policy.check_in_hours,
                attestations_per_day: st.policy.limits.attestations_per_day,
                device_id: Some(st.device_id),
                officer_id: Some(st.officer_id),
                department: Some(st.department),
                server: Some(st.server),
                assurance: Some(st.assurance),
                last_seq: st.last_seq,
                last_result: st.last_result,
                last_local: st.last_local,
                pending,
                dropped: st.dropped,
                reattest_requested: st.reattest_requested,
                revoked: st.revoked,
                platform: Some(st.platform),
                policy: Some(st.policy),
            },
        })
    }

    /// Evaluates the rules on the device, as the server will (without rosters and without
    /// the registry row: R1's "registry email is among them" cannot be checked here, so the
    /// officer's first reported email stands in for it).
    pub fn evaluate_locally(st: &State, claims: &Attestation) -> (Verdict, Vec<Failure>) {
        let officer = Officer {
            officer_id: st.officer_id.clone(),
            name: String::new(),
            designation: String::new(),
            department: st.department.clone(),
            email: claims.email.first().cloned().unwrap_or_default(),
            mobile: String::new(),
            entitled: true,
            gr_reference: None,
            phone_model: None,
            phone_purchased: None,
            retired_at: None,
        };
        let device = DeviceState {
            device_id: st.device_id,
            platform: st.platform,
            model: st.model.clone(),
            evidence: &st.evidence,
            revoked: false,
            latest: None,
            last_fresh_at: None,
        };
        let (verdict, failures, _) = policy::evaluate_attestation(
            &st.policy,
            &officer,
            &device,
            claims,
            &[],
            true,
            &policy::EvalContext::at(now()),
        );
        (verdict, failures)
    }

    fn fresh_nonce(&self, st: &mut State, client: &HttpsClient) -> Result<Vec<u8>, AgentError> {
        if let Some(n) = st.next_nonce_bytes()
            && n.len() == claims::NONCE_LEN
            && now().saturating_sub(st.nonce_received_at) < NONCE_MAX_AGE_SECS
        {
            return Ok(n);
        }
        Ok(fetch_challenge(client)?.nonce)
    }

    /// Builds, signs and numbers the next attestation. The number is saved first.
    fn sign_next(
        &self,
        st: &mut State,
        facts: &Facts,
        nonce: Option<Vec<u8>>,
    ) -> Result<(u64, Vec<u8>, LocalEvaluation), AgentError> {
        let seq = st
            .last_seq
            .checked_add(1)
            .ok_or_else(|| AgentError::BadAnswer("sequence numbers exhausted".into()))?;
        let iat = now();
        // Offline attestations name the last nonce the server sent (its hash), so the server
        // accepts them only shortly after that contact (design section 5 item 5).
        let anchor = match nonce {
            Some(_) => None,
            None => st.anchor.as_deref().and_then(|a| hex::decode(a).ok()),
        };
        // The server asked for fresh platform evidence: it must bind this nonce, so it
        // can only go with an online attestation.
        let evidence = match (&nonce, st.reattest_requested) {
            (Some(n), true) => self.evidence.fresh_evidence(n).unwrap_or_else(|e| {
                // Check in anyway: the server keeps asking, and the officer's facts
                // still count.
                log::warn!("fresh evidence was asked for but the platform failed: {e}");
                None
            }),
            _ => None,
        };
        let claims = Attestation {
            protocol: claims::Protocol::CURRENT,
            device_id: st.device_id,
            nonce,
            anchor,
            iat,
            seq,
            officer: st.officer_id.clone(),
            apps: facts.apps.clone(),
            groups: facts.groups.clone(),
            email: facts.emails.clone(),
            os: facts.os(),
            lock: facts.screen_lock,
            evidence,
        };
        // The server refuses control and bidirectional-formatting characters in claims:
        // say so here, before a sequence number is spent.
        claims
            .check_text()
            .map_err(|e| AgentError::Facts(e.to_string()))?;
        let (verdict, failures) = Self::evaluate_locally(st, &claims);
        let local = LocalEvaluation {
            seq,
            at: iat,
            verdict,
            failures,
        };
        st.last_seq = seq;
        // The nonce is single-use: whatever happens next, it is spent.
        st.next_nonce = None;
        st.last_local = Some(local.clone());
        st.save(&self.dir)?;
        let token = cose::sign_es256(
            self.signer.as_ref(),
            st.device_id.as_bytes(),
            claims.to_cbor(),
        )?;
        Ok((seq, token, local))
    }

    /// Signs an offline attestation (no nonce) and puts it in the outbox.
    fn queue(&self, st: &mut State, facts: &Facts) -> Result<CheckIn, AgentError> {
        let (seq, token, local) = self.sign_next(st, facts, None)?;
        self.outbox.push(seq, &token)?;
        let pending = self.outbox.len()?;
        log::info!("attestation {seq} queued; {pending} waiting");
        Ok(CheckIn::Queued {
            seq,
            token,
            pending,
            local,
        })
    }

    fn deliver(&self, st: &State, client: &HttpsClient, seq: u64, token: &[u8]) -> Delivery {
        let resp = match client.post("/v1/attest", DEVICE_CONTENT_TYPE, token) {
            Ok(r) => r,
            Err(e) if e.is_transient() => return Delivery::Transient(e.to_string()),
            Err(e @ TransportError::PinMismatch { .. }) => return Delivery::KeyChanged(e),
            // TLS or pin failures, malformed answers: not something a retry fixes, but
            // nothing the server decided either. Keep the token and report.
            Err(e) => return Delivery::Transient(format!("transport: {e}")),
        };
        if resp.status == 429
            && let Some(secs) = resp.retry_after
        {
            return Delivery::Wait {
                code: error_body(&resp).error,
                secs,
            };
        }
        if resp.status == 429 || resp.status >= 500 {
            return Delivery::Transient(format!("HTTP {}", resp.status));
        }
        if !resp.is_success() {
            return Delivery::Refused {
                status: resp.status,
                body: error_body(&resp),
            };
        }
        match verify_result(st, &resp.body, seq) {
            Ok((r, new_key)) => Delivery::Accepted(r, new_key),
            Err(e) => {
                // The server recorded it, but this phone cannot trust the answer: keep the
                // token (the server refuses a second copy as delivered) and say why.
                log::warn!("the server's answer to attestation {seq} is refused: {e}");
                Delivery::Unverifiable(format!("unverifiable answer: {e}"))
            }
        }
    }

    /// Keeps the server's answer and its next nonce. `fresh`: the answer is to an
    /// attestation that carried a server nonce; only then does the server move the
    /// offline anchor to the nonce it sent back, and so does the agent.
    fn record_result(
        &self,
        st: &mut State,
        result: &AttestResult,
        fresh: bool,
        new_key: Option<[u8; 32]>,
        peer_pin: Option<[u8; 32]>,
    ) -> Result<(), AgentError> {
        if let Some(key) = new_key {
            // Kept only now: the chain and the answer verified (answer_keys::follow).
            log::info!(
                "the server's answer key was rotated; this phone now holds {}",
                hex::encode(key)
            );
            st.server_key = Some(hex::encode(key));
        }
        pins::after_answer(
            st,
            result.next_pin.as_ref(),
            st.server_key.is_some(),
            peer_pin,
        );
        if st.last_result.as_ref().is_none_or(|r| r.seq <= result.seq) {
            st.last_result = Some(result.clone());
        }
        st.next_nonce = Some(hex::encode(&result.next_nonce)).filter(|n| !n.is_empty());
        if fresh {
            st.anchor = anchor_of(&result.next_nonce).or(st.anchor.take());
            // The answer to an online attestation says whether fresh evidence is wanted
            // (still, if the evidence sent did not satisfy the server).
            st.reattest_requested = result.reattest;
        }
        st.nonce_received_at = now();
        // Accepted: whatever was revoked has been reinstated.
        st.revoked = None;
        st.save(&self.dir)?;
        Ok(())
    }

    /// A refusal for good: recorded and returned as [`AgentError::Revoked`] when the
    /// server says department IT revoked this device, as [`AgentError::Rejected`] else.
    fn refused(&self, st: &mut State, status: u16, body: ErrorBody) -> AgentError {
        if status != 403 || body.error != RejectCode::Revoked.as_str() {
            return AgentError::Rejected {
                status,
                code: body.error,
                message: body.message,
            };
        }
        // IT's text, shown to the officer: bounded, and without control characters.
        let reason = crate::api::revocation_reason(&body.message).map(|r| {
            r.chars()
                .filter(|c| !crate::text::is_unsafe_char(*c))
                .take(500)
                .collect::<String>()
        });
        log::warn!("the server refused this device as revoked by department IT");
        st.revoked = Some(Revocation {
            at: now(),
            reason: reason.clone(),
        });
        if let Err(e) = st.save(&self.dir) {
            return e.into();
        }
        AgentError::Revoked { reason }
    }

    /// Remembers not to send before `secs` from now (a 429's `Retry-After`; at most a day,
    /// the longest a policy's window makes a device wait).
    fn wait(&self, st: &mut State, secs: u64) -> Result<(), AgentError> {
        st.retry_at = now().saturating_add(secs.min(86_400));
        st.save(&self.dir)?;
        Ok(())
    }

    fn flush_locked(&self, st: &mut State, client: &HttpsClient) -> Result<usize, AgentError> {
        let mut done = 0;
        for entry in self.outbox.list()? {
            let token = self.outbox.read(&entry)?;
            match self.deliver(st, client, entry.seq, &token) {
                Delivery::Accepted(result, new_key) => {
                    // Queued attestations are offline ones: the server keeps the anchor.
                    self.record_result(st, &result, false, new_key, client.peer_pin())?;
                    self.outbox.remove(&entry)?;
                    log::info!(
                        "queued attestation {} delivered: {}",
                        entry.seq,
                        result.status.as_str()
                    );
                    done += 1;
                }
                Delivery::Refused { status: 409, body }
                    if body.error == RejectCode::SeqNotIncreasing.as_str() =>
                {
                    // Sequence not increasing: the server has this one (or a later one)
                    // already; an earlier attempt arrived but its answer was lost.
                    log::info!(
                        "queued attestation {} was already delivered ({})",
                        entry.seq,
                        body.error
                    );
                    self.outbox.remove(&entry)?;
                    done += 1;
                }
                Delivery::Refused { status, body }
                    if body.error == RejectCode::ProtocolOutdated.as_str() =>
                {
                    // Nothing about this token was refused: the app is. Kept for the
                    // updated app to send.
                    log::warn!("queued attestation {} kept: {}", entry.seq, body.message);
                    return Err(self.refused(st, status, body));
                }
                Delivery::Refused { status, body } => {
                    log::warn!(
                        "queued attestation {} refused for good ({status} {}): dropped",
                        entry.seq,
                        body.error
                    );
                    self.outbox.remove(&entry)?;
                    st.dropped += 1;
                    st.save(&self.dir)?;
                    done += 1;
                    if status == 401 || status == 403 {
                        // Unknown or revoked device: the rest would meet the same fate,
                        // but IT may reinstate it; keep them and say why.
                        return Err(self.refused(st, status, body));
                    }
                }
                Delivery::Wait { code, secs } => {
                    // Kept: the server refused nothing for good. Not before `secs`.
                    self.wait(st, secs)?;
                    return Err(AgentError::Rejected {
                        status: 429,
                        message: format!(
                            "queued attestation {} refused for now; the server asks to wait {secs} seconds",
                            entry.seq
                        ),
                        code,
                    });
                }
                Delivery::KeyChanged(e) => return Err(e.into()),
                Delivery::Transient(why) | Delivery::Unverifiable(why) => {
                    return Err(AgentError::Transport(TransportError::Io(
                        std::io::Error::other(format!(
                            "outbox delivery stopped at {}: {why}",
                            entry.seq
                        )),
                    )));
                }
            }
        }
        Ok(done)
    }
}

fn fetch_challenge(client: &HttpsClient) -> Result<Challenge, AgentError> {
    let resp = client.get("/v1/challenge")?;
    if !resp.is_success() {
        return Err(rejected(&resp));
    }
    let challenge: Challenge =
        claims::decode(&resp.body).map_err(|e| AgentError::BadAnswer(format!("challenge: {e}")))?;
    if challenge.nonce.len() != claims::NONCE_LEN {
        return Err(AgentError::BadAnswer(
            "challenge nonce is not 32 bytes".into(),
        ));
    }
    Ok(challenge)
}

/// Checks the server's signed result: signature (when the key is known: by it, or by a
/// newer key its chain of endorsements leads to, returned), device and seq.
fn verify_result(
    st: &State,
    body: &[u8],
    seq: u64,
) -> Result<(AttestResult, Option<[u8; 32]>), AgentError> {
    let sign1 = Sign1::parse(body)?;
    let unverified: AttestResult = claims::decode(sign1.unverified_payload())
        .map_err(|e| AgentError::BadAnswer(format!("result: {e}")))?;
    let new_key = match st.server_key_bytes() {
        Some(key) => {
            answer_keys::follow(&key, &sign1, &unverified.answer_keys)
                .map_err(|e| AgentError::BadAnswer(e.to_string()))?
                .1
        }
        None => None,
    };
    // Verified: the payload decoded above is the signed one.
    let result = unverified;
    if result.device_id != st.device_id || result.seq != seq {
        return Err(AgentError::BadAnswer(format!(
            "result is for device {} seq {}, expected {} seq {seq}",
            result.device_id, result.seq, st.device_id
        )));
    }
    Ok((result, new_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SoftwareSigner;

    fn offline_agent(dir: &Path) -> (Agent, Arc<SoftwareSigner>) {
        let signer = Arc::new(SoftwareSigner::generate().expect("key"));
        let mut st = state::tests::sample();
        st.public_key = hex::encode(signer.public_key().expect("pk").as_sec1());
        // Nothing listens on port 1: every delivery fails fast and transiently.
        st.server = "https://127.0.0.1:1".into();
        st.save(dir).expect("save");
        let options = transport::Options {
            attempts: 1,
            connect_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        };
        let agent = Agent::open_with(dir, signer.clone(), options).expect("open");
        (agent, signer)
    }

    fn facts() -> Facts {
        Facts::from_toml(
            "platform = \"desktop\"\nmodel = \"Test\"\nscreen_lock = false\nemails = [\"x@gmail.com\"]\n",
        )
        .expect("facts")
    }

    #[test]
    fn unenrolled_agent_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let signer = Arc::new(SoftwareSigner::generate().expect("key"));
        let agent = Agent::open(dir.path(), signer).expect("open");
        assert!(matches!(
            agent.check_in(&facts()),
            Err(AgentError::NotEnrolled)
        ));
        assert!(matches!(agent.flush_outbox(), Err(AgentError::NotEnrolled)));
        let status = agent.status().expect("status");
        assert!(!status.enrolled);
        assert_eq!(status.pending, 0);
        assert_eq!(
            (
                status.last_check_in_at,
                status.retry_at,
                status.check_in_hours,
                status.attestations_per_day
            ),
            (None, 0, 0, 0)
        );
        assert!(matches!(
            agent.enroll("http://nope", &facts(), None),
            Err(AgentError::Uri(_))
        ));
    }

    #[test]
    fn status_carries_what_the_screen_and_the_plan_need() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (agent, _) = offline_agent(dir.path());
        let before = agent.status().expect("status");
        assert_eq!(before.last_check_in_at, None);
        assert_eq!(
            (before.check_in_hours, before.attestations_per_day),
            (24, 96)
        );
        let t0 = now();
        let queued = agent.check_in(&facts()).expect("queued");
        let status = agent.status().expect("status");
        assert_eq!(status.last_check_in_at, Some(queued.local().at));
        assert!(status.last_check_in_at.is_some_and(|at| at >= t0));
        assert_eq!(status.retry_at, 0);
        // Queued, not accepted: the screen says so and the plan sends it.
        let t = now();
        let screen = screen::screen(&status.screen_input(), t);
        assert_eq!(screen.tone, screen::Tone::Bad, "R1 and R5 fail locally");
        assert_eq!(
            screen.queued.as_deref(),
            Some("1 check-in waiting to be sent")
        );
        assert!(
            screen.last_check_in.ends_with(", waiting to be sent"),
            "{}",
            screen.last_check_in
        );
        let p = plan::plan(&status.plan_input(), t);
        assert_eq!(p.action, plan::PlanAction::FlushOutbox);
        // The policy's numbers and the server's deadline come from the state file.
        let mut st = State::load(dir.path()).expect("load").expect("state");
        st.policy.check_in_hours = 6;
        st.policy.limits.attestations_per_day = 10;
        st.retry_at = t + 600;
        st.save(dir.path()).expect("save");
        let status = agent.status().expect("status");
        assert_eq!(
            (
                status.check_in_hours,
                status.attestations_per_day,
                status.retry_at
            ),
            (6, 10, t + 600)
        );
        assert_eq!(
            plan::plan(&status.plan_input(), t).action,
            plan::PlanAction::Wait
        );
    }

    #[test]
    fn facts_with_control_or_bidi_characters_are_refused_before_signing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (agent, _) = offline_agent(dir.path());
        let before = agent.status().expect("status");
        for bad in [
            "emails = [\"x@\u{202E}ni.vog\"]",
            "os_version = \"15\\u001b[2J\"",
        ] {
            let facts = Facts::from_toml(&format!(
                "platform = \"desktop\"\nmodel = \"Test\"\nscreen_lock = true\n{bad}\n"
            ))
            .expect("the file itself parses");
            let err = agent.check_in(&facts).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(
                    |e| e.starts_with("device facts: claim `") && e.contains("bidirectional")
                ),
                "{err:?}"
            );
        }
        // Nothing was signed, numbered or queued.
        let after = agent.status().expect("status");
        assert_eq!(
            (after.last_seq, after.pending),
            (before.last_seq, before.pending)
        );
    }

    #[test]
    fn offline_check_ins_queue_signed_tokens_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (agent, signer) = offline_agent(dir.path());
        let mut seqs = Vec::new();
        for i in 1..=3 {
            let CheckIn::Queued {
                seq,
                token,
                pending,
                local,
            } = agent.check_in(&facts()).expect("check in")
            else {
                panic!("expected Queued")
            };
            assert_eq!(pending, i);
            // R1 (gmail) and R5 (no lock) fail locally.
            assert_eq!(local.verdict, Verdict::Contraindicated);
            assert!(local.failures.iter().any(|f| f.rule == policy::Rule::R1));
            assert!(local.failures.iter().any(|f| f.rule == policy::Rule::R5));
            let sign1 = Sign1::parse(&token).expect("cose");
            let pk = signer.public_key().expect("pk");
            let claims = Attestation::from_cbor(
                sign1
                    .verify_es256(&pk, Some(Uuid::from_u128(7).as_bytes()))
                    .expect("verifies"),
            )
            .expect("claims");
            assert_eq!(claims.nonce, None, "queued tokens carry no nonce");
            assert_eq!(claims.seq, seq);
            seqs.push(seq);
        }
        assert_eq!(
            seqs,
            vec![10, 11, 12],
            "sequence continues after the stored 9"
        );
        let status = agent.status().expect("status");
        assert_eq!(status.pending, 3);
        assert_eq!(status.last_seq, 12);
        assert!(status.last_local.is_some());
        assert!(agent.flush_outbox().expect_err("offline").is_transient());
        assert_eq!(agent.pending().expect("pending"), 3);
    }

    #[test]
    fn seq_never_goes_back_even_if_state_lags_the_outbox() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (agent, _) = offline_agent(dir.path());
        Outbox::open(dir.path())
            .expect("outbox")
            .push(50, b"x")
            .expect("push");
        assert_eq!(agent.check_in(&facts()).expect("check in").seq(), 51);
    }

    #[test]
    fn a_failed_enrollment_leaves_the_state_directory_as_it_was() {
        let parent = tempfile::tempdir().expect("tempdir");
        // Nothing listens on port 1.
        let uri = EnrollmentUri {
            server: "https://127.0.0.1:1".into(),
            token: "tok".into(),
            pin: [9; 32],
        }
        .to_string();
        let options = transport::Options {
            attempts: 1,
            connect_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        };
        // A directory that does not exist yet, and one holding someone's file.
        let fresh = parent.path().join("fresh");
        let used = parent.path().join("used");
        std::fs::create_dir(&used).expect("mkdir");
        std::fs::write(used.join("notes.txt"), b"keep me").expect("write");
        let names = |dir: &Path| -> Vec<String> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        };
        for dir in [&fresh, &used] {
            let before = names(dir);
            let key = Arc::new(crate::keys::KeyFile::open(&dir.join("device.key")).expect("key"));
            let agent = Agent::open_with(dir, key.clone(), options.clone()).expect("open");
            assert!(!agent.status().expect("status").enrolled);
            let err = agent.enroll(&uri, &facts(), None).expect_err("unreachable");
            assert!(err.is_transient(), "{err}");
            assert_eq!(names(dir), before, "{}", dir.display());
            assert!(!key.on_disk());
        }
        assert!(!fresh.exists());
    }

    #[test]
    fn another_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_agent, _) = offline_agent(dir.path());
        let other = Agent::open(
            dir.path(),
            Arc::new(SoftwareSigner::generate().expect("key")),
        )
        .expect("open");
        assert!(matches!(
            other.check_in(&facts()),
            Err(AgentError::KeyMismatch)
        ));
        assert!(matches!(
            other.enroll("pramaan://enroll?v=1", &facts(), None),
            Err(AgentError::AlreadyEnrolled(_))
        ));
    }
}
