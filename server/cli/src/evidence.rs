//! `pramaan evidence android|apple`: verify platform evidence files by hand.
//!
//! Support staff get a key attestation chain or an App Attest object from a phone that
//! enrolled as "software" and need to know why; developers check captured evidence. This
//! runs the same verifiers as enrollment (`pramaan_core::evidence`) with the shipped roots
//! at an explicit time (`--at`, since certificates in captured evidence expire), prints
//! the verified facts as JSON and exits non-zero with the reason on any failure.
//!
//! Apple inputs are either the YAML documents of the devicecheck-appattest test corpus
//! (read with a small line reader for their top-level `key: value` fields: `type`,
//! `attestationBase64`/`assertionBase64`, `teamIdentifier`, `bundleIdentifier`,
//! `environment`, `clientDataBase64`, `keyIdBase64`, `timestamp`), or a file holding one
//! attestation object (raw CBOR or base64) with `--app-id`, `--key-id` and
//! `--client-data` given on the command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::{Subcommand, ValueEnum};
use pramaan_core::evidence::x509::pem_certificates;
use pramaan_core::evidence::{
    Environment, TrustAnchors, verify_android, verify_apple_assertion, verify_apple_attestation,
};
use ring::digest::{SHA256, digest};
use serde_json::{Value as Json, json};

use super::enroll_token::rfc3339;
use super::{CliError, CliResult};

/// `pramaan evidence android|apple`.
#[derive(Debug, Subcommand)]
pub enum EvidenceCmd {
    /// Verify an Android Key Attestation chain (PEM, leaf first) against Google's roots.
    Android {
        /// The chain as PEM certificates, leaf first (the root may be omitted).
        chain: PathBuf,
        /// The expected attestationChallenge as text (its UTF-8 bytes).
        #[arg(long, conflicts_with = "challenge_b64")]
        challenge: Option<String>,
        /// The expected attestationChallenge as base64 (e.g. an enrollment nonce).
        #[arg(long)]
        challenge_b64: Option<String>,
        /// The time to verify at (RFC 3339); default: now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Verify Apple App Attest attestations (and assertions, from YAML documents).
    Apple {
        /// YAML documents (devicecheck-appattest format) or attestation object files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The time to verify at (RFC 3339); default: each document's `timestamp`, else now.
        #[arg(long)]
        at: Option<String>,
        /// TEAMID.bundle.id (for attestation object files).
        #[arg(long)]
        app_id: Option<String>,
        /// The key id, base64 (for attestation object files).
        #[arg(long)]
        key_id: Option<String>,
        /// The client data, base64; its SHA-256 is the clientDataHash.
        #[arg(long)]
        client_data: Option<String>,
        /// App Attest environment of the app that made the attestation (for attestation
        /// object files; YAML documents name their own).
        #[arg(long, value_enum, default_value_t = Env::Production)]
        environment: Env,
    },
}

/// The App Attest environment (`--environment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Env {
    /// Builds run from Xcode (development entitlement): test phones only.
    Development,
    /// Release builds (App Store, TestFlight): what officers' phones run.
    Production,
}

fn fail(msg: impl Into<String>) -> CliError {
    CliError::new(msg)
}

fn parse_at(at: Option<&str>) -> Result<Option<u64>, CliError> {
    at.map(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| fail(format!("--at {s}: not an RFC 3339 time ({e})")))
            .and_then(|t| {
                u64::try_from(t.unix_timestamp()).map_err(|_| fail("--at is before 1970"))
            })
    })
    .transpose()
}

fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))
}

fn b64(what: &str, s: &str) -> Result<Vec<u8>, CliError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| fail(format!("{what} is not base64")))
}

fn print(value: &Json) -> CliResult {
    let text = serde_json::to_string_pretty(value).map_err(|e| fail(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Runs one `evidence` command.
pub fn run(cmd: EvidenceCmd) -> CliResult {
    match cmd {
        EvidenceCmd::Android {
            chain,
            challenge,
            challenge_b64,
            at,
        } => android(&chain, challenge, challenge_b64, at.as_deref()),
        EvidenceCmd::Apple {
            files,
            at,
            app_id,
            key_id,
            client_data,
            environment,
        } => {
            let env = match environment {
                Env::Development => Environment::Development,
                Env::Production => Environment::Production,
            };
            let at = parse_at(at.as_deref())?;
            let mut results = Vec::new();
            for file in &files {
                results.extend(apple_file(
                    file,
                    at,
                    app_id.as_deref(),
                    key_id.as_deref(),
                    client_data.as_deref(),
                    env,
                )?);
            }
            print(&Json::Array(results))
        }
    }
}

fn android(
    chain: &Path,
    challenge: Option<String>,
    challenge_b64: Option<String>,
    at: Option<&str>,
) -> CliResult {
    let challenge = match (challenge, challenge_b64) {
        (Some(t), None) => t.into_bytes(),
        (None, Some(b)) => b64("--challenge-b64", &b)?,
        _ => {
            return Err(fail(
                "give the expected challenge: --challenge TEXT or --challenge-b64 B64",
            ));
        }
    };
    let now = parse_at(at)?.unwrap_or_else(system_now);
    let certs = pem_certificates(&read_text(chain)?)
        .map_err(|e| fail(format!("{}: {e}", chain.display())))?;
    let att = verify_android(&certs, &challenge, now, &TrustAnchors::google_builtin())
        .map_err(|e| fail(format!("android key attestation rejected: {e}")))?;
    let mut value = serde_json::to_value(&att).map_err(|e| fail(e.to_string()))?;
    if let Json::Object(map) = &mut value {
        map.insert("verified".into(), Json::Bool(true));
        map.insert("at".into(), Json::String(rfc3339(now)));
        map.insert("chain_length".into(), json!(certs.len()));
    }
    print(&value)
}

/// Top-level `key: value` fields of each `---` document.
fn yaml_documents(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut docs = vec![BTreeMap::new()];
    for line in text.lines() {
        if line == "---" {
            docs.push(BTreeMap::new());
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        if let (Some(doc), Some((k, v))) = (docs.last_mut(), line.split_once(':')) {
            doc.insert(
                k.trim().to_string(),
                v.trim().trim_matches('\'').to_string(),
            );
        }
    }
    docs.retain(|d| !d.is_empty());
    docs
}

fn apple_file(
    file: &Path,
    at: Option<u64>,
    app_id: Option<&str>,
    key_id: Option<&str>,
    client_data: Option<&str>,
    env: Environment,
) -> Result<Vec<Json>, CliError> {
    let bytes =
        std::fs::read(file).map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    let docs = yaml_documents(&text);
    if !docs.iter().any(|d| d.contains_key("type")) {
        // One attestation object, raw CBOR or base64.
        let object = if bytes.first().is_some_and(|b| *b & 0xe0 == 0xa0) {
            bytes.clone()
        } else {
            b64("attestation object file", &text)?
        };
        let app_id =
            app_id.ok_or_else(|| fail("--app-id is required for an attestation object file"))?;
        let key_id = b64(
            "--key-id",
            key_id.ok_or_else(|| fail("--key-id is required"))?,
        )?;
        let client_data = b64(
            "--client-data",
            client_data.ok_or_else(|| fail("--client-data is required"))?,
        )?;
        let now = at.unwrap_or_else(system_now);
        let cdh = sha256(&client_data);
        let a = verify_apple_attestation(
            &object,
            &cdh,
            &key_id,
            app_id,
            env,
            now,
            &TrustAnchors::apple_builtin(),
        )
        .map_err(|e| {
            fail(format!(
                "{}: app attest attestation rejected: {e}",
                file.display()
            ))
        })?;
        return Ok(vec![attestation_json(file, app_id, now, &a)]);
    }
    let mut out = Vec::new();
    // Attested public keys by key id, for the assertions that follow.
    let mut keys: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for d in docs
        .iter()
        .filter(|d| d.get("type").map(String::as_str) == Some("attestation"))
    {
        let field = |k: &str| {
            d.get(k)
                .map(String::as_str)
                .ok_or_else(|| fail(format!("{}: document without {k}", file.display())))
        };
        let app = format!(
            "{}.{}",
            field("teamIdentifier")?,
            field("bundleIdentifier")?
        );
        let env = match field("environment")? {
            "development" => Environment::Development,
            _ => Environment::Production,
        };
        let now = match at {
            Some(t) => t,
            None => parse_at(d.get("timestamp").map(String::as_str))?.unwrap_or_else(system_now),
        };
        let key_id_b64 = field("keyIdBase64")?;
        let a = verify_apple_attestation(
            &b64("attestationBase64", field("attestationBase64")?)?,
            &sha256(&b64("clientDataBase64", field("clientDataBase64")?)?),
            &b64("keyIdBase64", key_id_b64)?,
            &app,
            env,
            now,
            &TrustAnchors::apple_builtin(),
        )
        .map_err(|e| {
            fail(format!(
                "{}: attestation {}: rejected: {e}",
                file.display(),
                field("id").unwrap_or("?")
            ))
        })?;
        keys.insert(key_id_b64.to_string(), a.public_key.clone());
        out.push(attestation_json(file, &app, now, &a));
    }
    for d in docs
        .iter()
        .filter(|d| d.get("type").map(String::as_str) == Some("assertion"))
    {
        let field = |k: &str| {
            d.get(k)
                .map(String::as_str)
                .ok_or_else(|| fail(format!("{}: document without {k}", file.display())))
        };
        let id = field("id").unwrap_or("?");
        let app = format!(
            "{}.{}",
            field("teamIdentifier")?,
            field("bundleIdentifier")?
        );
        let key = keys.get(field("keyIdBase64")?).ok_or_else(|| {
            fail(format!(
                "{}: assertion {id}: no verified attestation for its key id in this file",
                file.display()
            ))
        })?;
        let counter = verify_apple_assertion(
            &b64("assertionBase64", field("assertionBase64")?)?,
            &sha256(&b64("clientDataBase64", field("clientDataBase64")?)?),
            key,
            &app,
            0,
        )
        .map_err(|e| fail(format!("{}: assertion {id}: rejected: {e}", file.display())))?;
        out.push(json!({
            "file": file.display().to_string(),
            "type": "assertion",
            "id": id,
            "app_id": app,
            "verified": true,
            "counter": counter,
            "public_key": hex::encode(key),
        }));
    }
    if out.is_empty() {
        return Err(fail(format!(
            "{}: no attestation or assertion documents",
            file.display()
        )));
    }
    Ok(out)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h.copy_from_slice(digest(&SHA256, data).as_ref());
    h
}

fn attestation_json(
    file: &Path,
    app_id: &str,
    now: u64,
    a: &pramaan_core::evidence::AppleAttestation,
) -> Json {
    json!({
        "file": file.display().to_string(),
        "type": "attestation",
        "app_id": app_id,
        "verified": true,
        "at": rfc3339(now),
        "environment": a.environment,
        "counter": a.counter,
        "key_id": hex::encode(&a.key_id),
        "public_key": hex::encode(&a.public_key),
        "receipt_bytes": a.receipt.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_reader_takes_top_level_fields() {
        let docs =
            yaml_documents("---\ntype: attestation\nkey: |\n  a\nb: 'x'\n---\ntype: receipt\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["type"], "attestation");
        assert_eq!(docs[0]["b"], "x");
    }

    fn data(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../core/tests/data/evidence")
            .join(rel)
    }

    #[test]
    fn android_verifies_sony_and_rejects_marlin_and_tokay() {
        let sony = data("android-key-attestation/sony-xperia10-iii/sdk33/TEE_EC.pem");
        let challenge = Some("Pq/k1d0AkN5aQrQytCSBr1zimWNlayWExZpJLeFtAMk=".to_string());
        assert!(android(&sony, None, challenge.clone(), Some("2026-06-04T15:39:05Z")).is_ok());
        // Wrong challenge, and a time before the keybox was issued.
        let e = android(&sony, Some("x".into()), None, Some("2026-06-04T15:39:05Z"));
        assert!(e.is_err_and(|e| e.0.contains("challenge")));
        assert!(android(&sony, None, challenge, Some("2015-01-01T00:00:00Z")).is_err());
        let marlin = data("android-key-attestation/marlin/sdk29/TEE_EC_NONE.pem");
        let e = android(
            &marlin,
            Some("challenge".into()),
            None,
            Some("2019-10-29T00:21:52Z"),
        );
        assert!(e.is_err_and(|e| e.0.contains("not trusted")));
        let tokay = data("android-key-attestation/tokay/sdk37/TEE_MLDSA_RKP.pem");
        let e = android(&tokay, Some("x".into()), None, Some("2026-05-01T00:00:00Z"));
        assert!(e.is_err_and(|e| e.0.contains("unsupported algorithm")));
        assert!(android(&sony, None, None, None).is_err());
    }

    #[test]
    fn apple_yaml_documents_verify_at_their_timestamps() {
        for f in ["ios-14.2.yaml", "ios-14.3.yaml", "ios-14.4.yaml"] {
            let path = data(&format!("apple-app-attest/{f}"));
            let out = apple_file(&path, None, None, None, None, Environment::Production);
            let out = out.unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(out.len(), 2, "{f}: one attestation and one assertion");
            // A year later the credential certificate has expired.
            let late = parse_at(Some("2022-06-01T00:00:00Z")).ok().flatten();
            assert!(apple_file(&path, late, None, None, None, Environment::Production).is_err());
        }
    }

    #[test]
    fn bad_times_are_errors() {
        assert!(parse_at(Some("yesterday")).is_err());
        assert_eq!(
            parse_at(Some("1970-01-01T00:00:10Z")).ok().flatten(),
            Some(10)
        );
    }
}
