//! Pramaan's shared core: what the phone agent and the verification server agree on.
//!
//! Data flows one way: device facts -> [`claims`] -> [`cose`] -> the server, which
//! evaluates compliance with [`policy`] (the same function the phone runs to tell its
//! officer what is missing). Nothing here knows about HTTP servers or SQL.
//!
//! Unsafe code is denied crate-wide; the only exception is the uniffi scaffolding that
//! the `ffi` feature generates in [`ffi`].
#![deny(unsafe_code)]

pub mod agent;
pub mod catalog;
pub mod claims;
pub mod cose;
pub mod enroll_uri;
pub mod evidence;
#[cfg(feature = "ffi")]
pub mod ffi;
pub mod fsutil;
pub mod keys;
pub mod policy;
pub mod transport;

// The scaffolding and the `#[uniffi::export]` items in `ffi` expand to `extern "C"`
// functions; rustc's `unsafe_code` lint does not fire on that macro output (checked with
// uniffi 0.32.2), so no `allow(unsafe_code)` is needed anywhere, even in `ffi`.
#[cfg(feature = "ffi")]
uniffi::setup_scaffolding!("pramaan_core");

pub use claims::{Attestation, ClaimsError};
pub use cose::{CoseError, Sign1};
pub use keys::{KeyError, P256PublicKey, ServerKey, Signer, SoftwareSigner};
