//! The log's side of C2SP tlog-witness: after signing a checkpoint, ask each configured
//! witness (`[[witnesses]]` in `config.toml`) to cosign it and append the cosignatures.
//!
//! Why the log asks and not the auditor: a witness only cosigns a tree consistent with the
//! last one it cosigned, so the log must hand it consistency proofs, which only the log
//! can make. A cosignature is verified with the witness's key before it is kept, so a
//! misconfigured or lying witness never puts a bad line into a checkpoint. Witnesses are
//! best effort for the log: a witness that is down or refuses is logged, and the note goes
//! out with the cosignatures obtained; it is the auditor (`pramaan audit verify
//! --witness-key`) who decides how many cosignatures are enough.
//!
//! These calls are blocking (core's HTTPS client); from async code run them on the
//! blocking pool.

use std::sync::Mutex;
use std::time::Duration;

use pramaan_core::transport::{HttpsClient, Options, Trust};
use pramaan_tlog::Hash;
use pramaan_tlog::witness::{AddCheckpoint, WitnessKey, checkpoint_of};

use crate::config::WitnessConfig;

/// Largest answer read from a witness (cosignature lines are ~150 bytes each).
const MAX_ANSWER: usize = 64 * 1024;

/// Why a witness did not cosign.
#[derive(Debug, thiserror::Error)]
pub enum WitnessClientError {
    /// The `[[witnesses]]` entry is unusable (the reason names the field).
    #[error("witness {url}: {reason}")]
    Config {
        /// The witness URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The note to submit is not a signed checkpoint.
    #[error("not a checkpoint: {0}")]
    Note(#[from] pramaan_tlog::NoteError),
    /// The witness could not be reached (network, TLS, pin).
    #[error("witness {url}: {source}")]
    Transport {
        /// The witness URL.
        url: String,
        /// The transport's error.
        #[source]
        source: pramaan_core::transport::TransportError,
    },
    /// A consistency proof for the witness could not be made.
    #[error("consistency proof {old} -> {new}: {reason}")]
    Proof {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
        /// Why.
        reason: String,
    },
    /// The witness has cosigned a tree of this log that this checkpoint does not extend:
    /// either it is larger, or it has the same size and another root. This log has forked
    /// (or was restored from an old backup).
    #[error(
        "witness {url} has cosigned a tree of size {witness_size} that this checkpoint (size {size}) does not extend: the log has forked or was rolled back"
    )]
    Forked {
        /// The witness URL.
        url: String,
        /// The witness's latest size.
        witness_size: u64,
        /// This checkpoint's size.
        size: u64,
    },
    /// The witness refused the checkpoint (status and its reason).
    #[error("witness {url} refused the checkpoint ({status}): {reason}")]
    Refused {
        /// The witness URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The witness's text, shortened.
        reason: String,
    },
    /// The witness answered 200 without a valid cosignature of its configured key.
    #[error("witness {url} answered no valid cosignature by {key}: {reason}")]
    BadCosignature {
        /// The witness URL.
        url: String,
        /// The configured key, `<name>+<id>`.
        key: String,
        /// Why.
        reason: String,
    },
}

/// One witness the log asks for cosignatures.
#[derive(Debug)]
pub struct WitnessEndpoint {
    url: String,
    key: WitnessKey,
    client: HttpsClient,
    /// The size the witness last cosigned, as far as this process knows (saves the 409
    /// round trip on every checkpoint after the first).
    last_size: Mutex<Option<u64>>,
}

impl WitnessEndpoint {
    /// A witness at `url` (its submission prefix) trusted by `trust`, cosigning with `key`.
    pub fn new(url: &str, trust: Trust, key: WitnessKey) -> Result<Self, WitnessClientError> {
        // Short and without transport retries: a witness that is down must cost the log
        // seconds, not minutes (the 409 retry below is separate).
        let options = Options {
            connect_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(10),
            attempts: 1,
            backoff: Duration::from_millis(100),
            max_response: MAX_ANSWER,
        };
        let client =
            HttpsClient::new(url, trust, options).map_err(|e| WitnessClientError::Config {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            url: url.to_string(),
            key,
            client,
            last_size: Mutex::new(None),
        })
    }

    /// From a validated `[[witnesses]]` entry (reads the CA file if one is given).
    pub fn from_config(c: &WitnessConfig) -> Result<Self, WitnessClientError> {
        let cfg = |reason: String| WitnessClientError::Config {
            url: c.url.clone(),
            reason,
        };
        c.validate().map_err(cfg)?;
        let key = WitnessKey::parse(&c.key).map_err(|e| cfg(format!("key: {e}")))?;
        let trust = match (&c.pin, &c.ca) {
            (Some(pin), _) => Trust::from_pin_b64url(pin).map_err(|e| cfg(format!("pin: {e}")))?,
            (None, Some(ca)) => Trust::CaPem(
                std::fs::read(ca).map_err(|e| cfg(format!("ca {}: {e}", ca.display())))?,
            ),
            (None, None) => return Err(cfg("no pin or ca".into())),
        };
        Self::new(&c.url, trust, key)
    }

    /// The witness's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The witness's key.
    pub fn key(&self) -> &WitnessKey {
        &self.key
    }

    fn last_size(&self) -> Option<u64> {
        *self.last_size.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_last_size(&self, size: u64) {
        *self.last_size.lock().unwrap_or_else(|p| p.into_inner()) = Some(size);
    }

    /// Submits `note` (a checkpoint the log just signed) with `add-checkpoint`; `proof(old,
    /// new)` gives consistency proofs from the log. On 409 it retries once from the size
    /// the witness names. Returns `note` with the witness's verified cosignature line(s)
    /// appended.
    pub fn cosign(
        &self,
        note: &str,
        proof: &mut dyn FnMut(u64, u64) -> Result<Vec<Hash>, String>,
    ) -> Result<String, WitnessClientError> {
        let cp = checkpoint_of(note)?;
        let mut old = self.last_size().filter(|&s| s <= cp.size).unwrap_or(0);
        for attempt in 0..2 {
            let hashes = if old == 0 || old == cp.size {
                Vec::new()
            } else {
                proof(old, cp.size).map_err(|reason| WitnessClientError::Proof {
                    old,
                    new: cp.size,
                    reason,
                })?
            };
            let body = AddCheckpoint {
                old,
                proof: hashes,
                note: note.to_string(),
            }
            .to_body();
            let resp = self
                .client
                .post(
                    "/add-checkpoint",
                    "text/plain; charset=utf-8",
                    body.as_bytes(),
                )
                .map_err(|source| WitnessClientError::Transport {
                    url: self.url.clone(),
                    source,
                })?;
            let text = String::from_utf8_lossy(&resp.body);
            match resp.status {
                200 => {
                    let lines = self.key.lines_of(&format!("{note}{text}")).map_err(|e| {
                        WitnessClientError::BadCosignature {
                            url: self.url.clone(),
                            key: self.key.label(),
                            reason: e.to_string(),
                        }
                    })?;
                    self.set_last_size(cp.size);
                    return Ok(format!("{note}{lines}"));
                }
                409 => {
                    let witness_size: u64 =
                        text.trim()
                            .parse()
                            .map_err(|_| WitnessClientError::Refused {
                                url: self.url.clone(),
                                status: 409,
                                reason: "the conflict answer is not a tree size".into(),
                            })?;
                    self.set_last_size(witness_size);
                    // Past this checkpoint, or (on the retry from its own size) at this
                    // size with another root: this checkpoint does not extend its tree.
                    if witness_size > cp.size || (attempt == 1 && witness_size == cp.size) {
                        return Err(WitnessClientError::Forked {
                            url: self.url.clone(),
                            witness_size,
                            size: cp.size,
                        });
                    }
                    if attempt == 1 {
                        return Err(WitnessClientError::Refused {
                            url: self.url.clone(),
                            status: 409,
                            reason: format!(
                                "its size moved to {witness_size} while we retried (another log instance?)"
                            ),
                        });
                    }
                    old = witness_size;
                }
                status => {
                    return Err(WitnessClientError::Refused {
                        url: self.url.clone(),
                        status,
                        reason: text.trim().chars().take(300).collect(),
                    });
                }
            }
        }
        // The second attempt always returns above; this keeps the loop total.
        Err(WitnessClientError::Refused {
            url: self.url.clone(),
            status: 409,
            reason: "conflict after retry".into(),
        })
    }
}

/// The endpoints of the `[[witnesses]]` entries of the server's configuration.
pub fn endpoints(configs: &[WitnessConfig]) -> Result<Vec<WitnessEndpoint>, WitnessClientError> {
    configs.iter().map(WitnessEndpoint::from_config).collect()
}

/// Asks every witness to cosign a freshly signed `note`; returns the note with every
/// cosignature obtained. A witness that fails is logged and skipped: witnesses never
/// block the log.
pub fn collect_cosignatures(
    note: &str,
    witnesses: &[WitnessEndpoint],
    proof: &mut dyn FnMut(u64, u64) -> Result<Vec<Hash>, String>,
) -> String {
    let mut out = note.to_string();
    for w in witnesses {
        match w.cosign(note, proof) {
            Ok(cosigned) => out.push_str(&cosigned[note.len()..]),
            // The witness's answer is another server's text.
            Err(e) => log::warn!(
                "no cosignature: {}",
                crate::log_text::untrusted(&e.to_string())
            ),
        }
    }
    out
}
