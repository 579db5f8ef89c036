//! The real Android Key Attestation chains of `core/tests/data/evidence` (captured on real
//! phones, see its SOURCE.md), loaded one way for every test: the chain, Google's decode
//! of its leaf (the `.json` beside it), the attestation challenge and the "now" to check
//! it at (the key's creationDateTime).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use pramaan_core::evidence::x509::pem_certificates;

/// The folder of the Android chains.
pub fn android_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../core/tests/data/evidence/android-key-attestation")
}

/// One real chain and what Google's decode says of it.
#[derive(Debug, Clone)]
pub struct RealChain {
    /// The certificates, DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// Google's decode of the leaf's KeyDescription.
    pub expected: serde_json::Value,
    /// The attestation challenge the key was made with.
    pub challenge: Vec<u8>,
    /// The key's creation time, Unix seconds: "now" for checking the chain.
    pub now: u64,
}

/// The certificates of the PEM file `rel` (e.g. `invalid/tags_not_in_ascending_order`,
/// `.pem` optional), DER, leaf first.
pub fn android_pem(rel: &str) -> Vec<Vec<u8>> {
    let rel = rel.trim_end_matches(".pem");
    let text =
        std::fs::read_to_string(android_dir().join(format!("{rel}.pem"))).expect("chain file");
    pem_certificates(&text).expect("PEM chain")
}

/// The chain `rel` (e.g. `tegu/sdk37/TEE_TRUSTED_CONF`, `.pem` optional) with Google's
/// decode beside it.
pub fn android_chain(rel: &str) -> RealChain {
    let rel = rel.trim_end_matches(".pem");
    let dir = android_dir();
    let chain = android_pem(rel);
    // Some expectation files start with `// comment` lines.
    let json: String = std::fs::read_to_string(dir.join(format!("{rel}.json")))
        .expect("expectation file")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let expected: serde_json::Value = serde_json::from_str(&json).expect("expectation JSON");
    let challenge = base64::engine::general_purpose::STANDARD
        .decode(
            expected["attestationChallenge"]
                .as_str()
                .unwrap_or_default(),
        )
        .expect("base64 challenge");
    let now = expected["softwareEnforced"]["creationDateTime"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .expect("creationDateTime")
        / 1000;
    RealChain {
        chain,
        expected,
        challenge,
        now,
    }
}
