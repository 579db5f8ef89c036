//! Pramaan's shared core: what the phone agent and the verification server agree on.
//!
//! Data flows one way: device facts -> [`claims`] -> [`cose`] -> the server, which
//! evaluates compliance with [`policy`] (the same function the phone runs to tell its
//! officer what is missing). Nothing here knows about HTTP servers or SQL.
//!
//! This is a library only: the phone library (the uniffi surface, cdylib and staticlib)
//! is the `pramaan-ffi` crate in `core/ffi/`, so the core forbids unsafe code.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod api;
pub mod claims;
pub mod cose;
pub mod duration;
pub mod encoding;
pub mod enroll_uri;
pub mod evidence;
pub mod fsutil;
pub mod keys;
pub mod model;
pub mod policy;
pub mod suggest;
pub mod text;
pub mod times;
pub mod transport;

pub use claims::{Attestation, ClaimsError};
pub use cose::{CoseError, Sign1};
pub use keys::{KeyError, P256PublicKey, ServerKey, Signer, SoftwareSigner};
/// The platform catalog, at its old path.
pub use policy::catalog;
