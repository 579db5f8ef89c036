//! TLS to the database: rustls with the ring provider (never OpenSSL or aws-lc-rs), the
//! server's certificate verified against one PEM CA file and the host name connected to.
//!
//! Why only the given CA and not the system's roots: a state's database server has a
//! certificate of the deployment's own CA; trusting every public CA as well would let
//! anyone with a public certificate for the host's name stand in for the database.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// A TLS connector that trusts exactly the certificates of the PEM file `ca`.
pub(super) fn connector(ca: &Path) -> Result<MakeRustlsConnect, StoreError> {
    let shown = ca.display();
    let pem = std::fs::read(ca)
        .map_err(|e| StoreError::Backend(format!("the database CA file {shown}: {e}")))?;
    let chain = crate::tls::read_chain(&pem, ca)
        .map_err(|e| StoreError::Backend(format!("the database CA file: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in chain {
        roots.add(cert).map_err(|e| {
            StoreError::Backend(format!("the database CA file {shown}: a certificate: {e}"))
        })?;
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Backend(format!("TLS to the database: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
