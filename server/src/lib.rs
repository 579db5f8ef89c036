//! Pramaan's verification server and the `pramaan` command.
//!
//! Devices talk to [`api`]; what they send is verified with `pramaan_core`, stored through
//! [`store`] and appended to the tamper-evident [`log`]; department IT and auditors read
//! compliance and proofs through the same API, and the [`cli`] drives it all.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod log;
pub mod metrics;
pub mod server;
pub mod store;
pub mod tls;
