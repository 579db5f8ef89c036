//! Pramaan's verification server: a library (the `pramaan` command is `pramaan-cli`).
//!
//! Devices talk to [`api`]; what they send is verified with `pramaan_core`, stored through
//! [`store`] and appended to the tamper-evident [`audit_log`]; department IT and auditors read
//! compliance and proofs through the same API; the `pramaan` command (`pramaan-cli`) drives it all.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod answer_keys;
pub mod api;
pub mod attest;
pub mod audit_log;
pub mod auth;
pub mod backup;
pub mod cert_renewal;
pub mod checkpoints;
pub mod compliance;
pub mod config;
pub mod conn_limits;
pub mod credentials;
pub mod enroll;
pub mod limits;
pub mod log_keys;
pub mod log_text;
pub mod metrics;
pub mod nonce;
pub mod report_query;
pub mod server;
pub mod serving;
pub mod sizing;
pub mod status_list;
pub mod store;
pub mod tls;
pub mod views;
pub mod witness;
pub mod witness_client;
