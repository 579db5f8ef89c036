//! `pramaan evidence android|apple`: verify platform evidence files by hand;
//! `pramaan evidence status-list import|show`: the server's copy of Google's revocation
//! status list ([`status_list`]).
//!
//! Support staff get a key attestation chain or an App Attest object from a phone that
//! enrolled as "software" and need to know why; developers check captured evidence. This
//! runs the same verifiers as enrollment (`pramaan_core::evidence`) with the shipped roots
//! at an explicit time (`--at`, since certificates in captured evidence expire), prints
//! the verified facts as JSON and exits non-zero with the reason on any failure: exit 0
//! means the evidence is cryptographically valid for the challenge at that time.
//!
//! With `--policy FILE` (the department's policy, TOML or JSON) the facts are also judged
//! against its `[evidence]` requirements by `policy::judge_evidence`, the same judgement
//! the server makes: every unmet requirement is printed by name (in the JSON under
//! `policy.failures`, and on stderr) and the exit is non-zero. Android takes Google's
//! revocation status list (`--status-list`); Apple assertions take the counter the
//! server last saw (`--previous-counter`).
//!
//! Input is read leniently, the way phones and tools write it: PEM certificates may be
//! glued together without a line break, and every base64 value (PEM bodies, challenges,
//! key ids, client data, objects) may be standard or URL-safe, padded or not.
//!
//! Apple inputs are either the YAML documents of the devicecheck-appattest test corpus
//! (read with a small line reader for their top-level `key: value` fields: `type`,
//! `attestationBase64`/`assertionBase64`, `teamIdentifier`, `bundleIdentifier`,
//! `environment`, `clientDataBase64`, `keyIdBase64`, `timestamp`), or a file holding one
//! attestation object (raw CBOR or base64) with `--key-id` and `--client-data` given on
//! the command line (and `--app-id`, `--environment` to insist on them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use pramaan_core::evidence::x509::pem_certificates;
use pramaan_core::evidence::{
    AppleAttestation, Environment, EvidenceSummary, StatusList, TrustAnchors, android_facts,
    apple_facts, decode_base64, verify_android, verify_apple_assertion, verify_apple_attestation,
};
use pramaan_core::model::{Platform, Policy};
use pramaan_core::policy::catalog::Catalog;
use pramaan_core::policy::{StatusListView, judge_evidence};
use pramaan_core::text::for_terminal;
use ring::digest::{SHA256, digest};
use serde_json::{Value as Json, json};

use super::enroll_token::rfc3339;
use super::{CliError, CliResult};

pub mod status_list;

/// `pramaan evidence android|apple|status-list`.
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
        /// The department's policy (TOML or JSON): its [evidence] requirements must also
        /// hold; each unmet one is named and the exit is non-zero.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Google's attestation revocation status list (its JSON), for --policy: a
        /// listed serial in the chain is refused, and an expired factory keybox is
        /// accepted only while the list is recent enough for the policy.
        #[arg(long, requires = "policy")]
        status_list: Option<PathBuf>,
        /// When the status list was fetched from Google (RFC 3339). Default: the file's
        /// modification time (keep it when copying the file: `cp -p`). Its age is
        /// measured at --at.
        #[arg(long, requires = "status_list")]
        status_list_fetched: Option<String>,
    },
    /// Verify Apple App Attest attestations (and assertions, from YAML documents).
    Apple {
        /// YAML documents (devicecheck-appattest format) or attestation object files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The time to verify at (RFC 3339); default: each document's `timestamp`, else now.
        #[arg(long)]
        at: Option<String>,
        /// TEAMID.bundle.id the attestation must be for (attestation object files; YAML
        /// documents name their own). Without it the attested rpIdHash is only shown.
        #[arg(long)]
        app_id: Option<String>,
        /// The key id, base64 (for attestation object files).
        #[arg(long)]
        key_id: Option<String>,
        /// The client data, base64; its SHA-256 is the clientDataHash.
        #[arg(long)]
        client_data: Option<String>,
        /// The App Attest environment the attestation must name (attestation object
        /// files; YAML documents name their own). Without it the aaguid's is shown.
        #[arg(long, value_enum)]
        environment: Option<Env>,
        /// The assertion counter the server last saw for the key: an assertion must
        /// exceed it (a replayed or older assertion is refused). Attestations are 0.
        #[arg(long, default_value_t = 0)]
        previous_counter: u32,
        /// The department's policy (TOML or JSON): each attestation must meet its
        /// [evidence.apple] requirements (app ids, environment); each unmet one is named
        /// and the exit is non-zero.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Install a copy of Google's attestation revocation status list on the server
    /// (admin), or show the one in force and its age.
    #[command(subcommand)]
    StatusList(status_list::StatusListCmd),
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
    parse_at_named("--at", at)
}

fn parse_at_named(flag: &str, at: Option<&str>) -> Result<Option<u64>, CliError> {
    at.map(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| fail(format!("{flag} {s}: not an RFC 3339 time ({e})")))
            .and_then(|t| {
                u64::try_from(t.unix_timestamp())
                    .map_err(|_| fail(format!("{flag} is before 1970")))
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

/// Standard or URL-safe base64, padded or not.
fn b64(what: &str, s: &str) -> Result<Vec<u8>, CliError> {
    decode_base64(s).map_err(|_| fail(format!("{what} is not base64")))
}

fn load_policy(path: &Path) -> Result<Policy, CliError> {
    Policy::load(&read_text(path)?, &Catalog::builtin())
        .map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// A loaded status list and when it was fetched (see `--status-list-fetched`).
fn load_status_list(path: &Path, fetched: Option<&str>) -> Result<(StatusList, u64), CliError> {
    let list = StatusList::from_json(&read_text(path)?)
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let fetched_at = fetched_time(path, "--status-list-fetched", fetched)?;
    Ok((list, fetched_at))
}

/// When a status list file was fetched: the RFC 3339 time given with `flag`, else the
/// file's modification time (what `curl -o` or `cp -p` leaves), Unix seconds.
fn fetched_time(path: &Path, flag: &str, fetched: Option<&str>) -> Result<u64, CliError> {
    match parse_at_named(flag, fetched)? {
        Some(t) => Ok(t),
        None => Ok(std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| fail(format!("{}: no modification time ({e})", path.display())))?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
    }
}

/// The judgement of `summary` under `policy`, as JSON, and the unmet requirements.
fn judge(
    policy: &Policy,
    platform: Platform,
    summary: &EvidenceSummary,
    status_list: Option<StatusListView<'_>>,
    now: u64,
) -> (Json, Vec<String>) {
    let j = judge_evidence(&policy.evidence, platform, summary, status_list, now);
    let unmet: Vec<String> = j
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.rule.as_str(), for_terminal(&f.detail)))
        .collect();
    let value = json!({
        "department": policy.department,
        "met": j.failures.is_empty(),
        "assurance": j.assurance,
        "blocking": j.blocking,
        "reattest_due": j.reattest_due,
        "failures": j.failures,
        "status_list_fetched": status_list.map(|v| rfc3339(v.fetched_at)),
    });
    (value, unmet)
}

/// The error naming every unmet requirement (after the JSON is printed).
fn unmet_error(department: &str, what: &str, unmet: &[String]) -> CliError {
    fail(format!(
        "{what} does not meet the evidence policy of {department}: {} unmet requirement{}:\n  - {}",
        unmet.len(),
        if unmet.len() == 1 { "" } else { "s" },
        unmet.join("\n  - ")
    ))
}

fn print(value: &Json) -> CliResult {
    outln!("{}", crate::out::pretty_json(value));
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
            policy,
            status_list,
            status_list_fetched,
        } => {
            let checks = AndroidChecks {
                policy: policy.as_deref(),
                status_list: status_list.as_deref(),
                status_list_fetched: status_list_fetched.as_deref(),
            };
            android(&chain, challenge, challenge_b64, at.as_deref(), &checks)
        }
        EvidenceCmd::Apple {
            files,
            at,
            app_id,
            key_id,
            client_data,
            environment,
            previous_counter,
            policy,
        } => {
            let env = environment.map(|e| match e {
                Env::Development => Environment::Development,
                Env::Production => Environment::Production,
            });
            let at = parse_at(at.as_deref())?;
            let policy = policy.as_deref().map(load_policy).transpose()?;
            let opts = AppleOpts {
                at,
                app_id: app_id.as_deref(),
                key_id: key_id.as_deref(),
                client_data: client_data.as_deref(),
                env,
                previous_counter,
                policy: policy.as_ref(),
            };
            let mut results = Vec::new();
            let mut unmet = Vec::new();
            for file in &files {
                let (r, u) = apple_file(file, &opts)?;
                results.extend(r);
                unmet.extend(u);
            }
            print(&Json::Array(results))?;
            match policy {
                Some(p) if !unmet.is_empty() => Err(unmet_error(
                    &p.department,
                    "the App Attest evidence",
                    &unmet,
                )),
                _ => Ok(()),
            }
        }
        EvidenceCmd::StatusList(cmd) => status_list::run(cmd),
    }
}

/// The policy checks of `pramaan evidence android`.
#[derive(Debug, Default)]
struct AndroidChecks<'a> {
    policy: Option<&'a Path>,
    status_list: Option<&'a Path>,
    status_list_fetched: Option<&'a str>,
}

fn android(
    chain: &Path,
    challenge: Option<String>,
    challenge_b64: Option<String>,
    at: Option<&str>,
    checks: &AndroidChecks<'_>,
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
    // Load the policy and list first: a typo there is reported before any verdict.
    let policy = checks.policy.map(load_policy).transpose()?;
    let status_list = checks
        .status_list
        .map(|p| load_status_list(p, checks.status_list_fetched))
        .transpose()?;
    let certs = pem_certificates(&read_text(chain)?)
        .map_err(|e| fail(format!("{}: {e}", chain.display())))?;
    let att = verify_android(&certs, &challenge, now, &TrustAnchors::google_builtin())
        .map_err(|e| fail(format!("android key attestation rejected: {e}")))?;
    // The CLI has no enrolled device key: the facts are those of the chain and challenge.
    let summary = android_facts(&att, now);
    let mut value = serde_json::to_value(&att).map_err(|e| fail(e.to_string()))?;
    let mut unmet = Vec::new();
    if let Json::Object(map) = &mut value {
        map.insert("verified".into(), Json::Bool(true));
        map.insert("at".into(), Json::String(rfc3339(now)));
        map.insert("chain_length".into(), json!(certs.len()));
        map.insert(
            "summary".into(),
            serde_json::to_value(&summary).map_err(|e| fail(e.to_string()))?,
        );
        if let Some(p) = &policy {
            let view = status_list
                .as_ref()
                .map(|(list, fetched_at)| StatusListView {
                    list,
                    fetched_at: *fetched_at,
                });
            let (judged, u) = judge(p, Platform::Android, &summary, view, now);
            map.insert("policy".into(), judged);
            unmet = u;
        }
    }
    print(&value)?;
    match policy {
        Some(p) if !unmet.is_empty() => {
            Err(unmet_error(&p.department, "the key attestation", &unmet))
        }
        _ => Ok(()),
    }
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

/// The options of `pramaan evidence apple`.
#[derive(Debug, Default)]
struct AppleOpts<'a> {
    at: Option<u64>,
    app_id: Option<&'a str>,
    key_id: Option<&'a str>,
    client_data: Option<&'a str>,
    env: Option<Environment>,
    previous_counter: u32,
    policy: Option<&'a Policy>,
}

/// Checks the app id and environment the caller insists on (`what` names the source).
fn insist(
    a: &AppleAttestation,
    app_id: Option<&str>,
    env: Option<Environment>,
    what: &str,
) -> Result<(), CliError> {
    if let Some(id) = app_id
        && !a.is_for_app(id)
    {
        return Err(fail(format!(
            "{what}: rejected: rpIdHash {} is not SHA-256 of the app id {id}",
            hex::encode(&a.rp_id_hash)
        )));
    }
    if let Some(e) = env
        && e != a.environment
    {
        return Err(fail(format!(
            "{what}: rejected: the aaguid names the {} environment, not {}",
            a.environment.as_str(),
            e.as_str()
        )));
    }
    Ok(())
}

/// The JSON of one verified attestation, judged under the policy if any; the unmet
/// requirements are returned prefixed with `what`.
fn judged_attestation(
    file: &Path,
    app_id: Option<&str>,
    now: u64,
    a: &AppleAttestation,
    policy: Option<&Policy>,
    what: &str,
) -> (Json, Vec<String>) {
    let mut value = attestation_json(file, app_id, now, a);
    let summary = apple_facts(a, now);
    let mut unmet = Vec::new();
    if let Json::Object(map) = &mut value {
        map.insert("summary".into(), json!(summary));
        if let Some(p) = policy {
            let (judged, u) = judge(p, Platform::Ios, &summary, None, now);
            map.insert("policy".into(), judged);
            unmet = u.into_iter().map(|d| format!("{what}: {d}")).collect();
        }
    }
    (value, unmet)
}

fn apple_file(file: &Path, o: &AppleOpts<'_>) -> Result<(Vec<Json>, Vec<String>), CliError> {
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
        let key_id = b64(
            "--key-id",
            o.key_id.ok_or_else(|| fail("--key-id is required"))?,
        )?;
        let client_data = b64(
            "--client-data",
            o.client_data
                .ok_or_else(|| fail("--client-data is required"))?,
        )?;
        let now = o.at.unwrap_or_else(system_now);
        let what = format!("{}: app attest attestation", file.display());
        let a = verify_apple_attestation(
            &object,
            &sha256(&client_data),
            &key_id,
            now,
            &TrustAnchors::apple_builtin(),
        )
        .map_err(|e| fail(format!("{what} rejected: {e}")))?;
        insist(&a, o.app_id, o.env, &what)?;
        let (value, unmet) = judged_attestation(file, o.app_id, now, &a, o.policy, &what);
        return Ok((vec![value], unmet));
    }
    let mut out = Vec::new();
    let mut unmet = Vec::new();
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
        let now = match o.at {
            Some(t) => t,
            None => parse_at(d.get("timestamp").map(String::as_str))?.unwrap_or_else(system_now),
        };
        let what = format!(
            "{}: attestation {}",
            file.display(),
            field("id").unwrap_or("?")
        );
        let key_id_b64 = field("keyIdBase64")?;
        let a = verify_apple_attestation(
            &b64("attestationBase64", field("attestationBase64")?)?,
            &sha256(&b64("clientDataBase64", field("clientDataBase64")?)?),
            &b64("keyIdBase64", key_id_b64)?,
            now,
            &TrustAnchors::apple_builtin(),
        )
        .map_err(|e| fail(format!("{what}: rejected: {e}")))?;
        insist(&a, Some(&app), Some(env), &what)?;
        keys.insert(key_id_b64.to_string(), a.public_key.clone());
        let (value, u) = judged_attestation(file, Some(&app), now, &a, o.policy, &what);
        out.push(value);
        unmet.extend(u);
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
            o.previous_counter,
        )
        .map_err(|e| fail(format!("{}: assertion {id}: rejected: {e}", file.display())))?;
        out.push(json!({
            "file": file.display().to_string(),
            "type": "assertion",
            "id": id,
            "app_id": app,
            "verified": true,
            "counter": counter,
            "previous_counter": o.previous_counter,
            "public_key": hex::encode(key),
        }));
    }
    if out.is_empty() {
        return Err(fail(format!(
            "{}: no attestation or assertion documents",
            file.display()
        )));
    }
    Ok((out, unmet))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h.copy_from_slice(digest(&SHA256, data).as_ref());
    h
}

fn attestation_json(file: &Path, app_id: Option<&str>, now: u64, a: &AppleAttestation) -> Json {
    json!({
        "file": file.display().to_string(),
        "type": "attestation",
        "app_id": app_id,
        "verified": true,
        "at": rfc3339(now),
        "environment": a.environment,
        "rp_id_hash": hex::encode(&a.rp_id_hash),
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
        let none = AndroidChecks::default();
        let at = Some("2026-06-04T15:39:05Z");
        assert!(android(&sony, None, challenge.clone(), at, &none).is_ok());
        // URL-safe unpadded base64 of the same challenge.
        let url = Some("Pq_k1d0AkN5aQrQytCSBr1zimWNlayWExZpJLeFtAMk".to_string());
        assert!(android(&sony, None, url, at, &none).is_ok());
        // Wrong challenge, and a time before the keybox was issued.
        let e = android(&sony, Some("x".into()), None, at, &none);
        assert!(e.is_err_and(|e| e.0.contains("challenge")));
        assert!(android(&sony, None, challenge, Some("2015-01-01T00:00:00Z"), &none).is_err());
        let marlin = data("android-key-attestation/marlin/sdk29/TEE_EC_NONE.pem");
        let e = android(
            &marlin,
            Some("challenge".into()),
            None,
            Some("2019-10-29T00:21:52Z"),
            &none,
        );
        assert!(e.is_err_and(|e| e.0.contains("not trusted")));
        let tokay = data("android-key-attestation/tokay/sdk37/TEE_MLDSA_RKP.pem");
        let e = android(
            &tokay,
            Some("x".into()),
            None,
            Some("2026-05-01T00:00:00Z"),
            &none,
        );
        assert!(e.is_err_and(|e| e.0.contains("unsupported algorithm")));
        assert!(android(&sony, None, None, None, &none).is_err());
    }

    #[test]
    fn apple_yaml_documents_verify_at_their_timestamps() {
        for f in ["ios-14.2.yaml", "ios-14.3.yaml", "ios-14.4.yaml"] {
            let path = data(&format!("apple-app-attest/{f}"));
            let out = apple_file(&path, &AppleOpts::default());
            let (out, unmet) = out.unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(out.len(), 2, "{f}: one attestation and one assertion");
            assert!(unmet.is_empty());
            // A year later the credential certificate has expired.
            let late = AppleOpts {
                at: parse_at(Some("2022-06-01T00:00:00Z")).ok().flatten(),
                ..AppleOpts::default()
            };
            assert!(apple_file(&path, &late).is_err());
            // The assertions carry counter 1: a server that saw 1 refuses the replay.
            let seen = AppleOpts {
                previous_counter: 1,
                ..AppleOpts::default()
            };
            let e = apple_file(&path, &seen).map(|_| ());
            assert!(e.is_err_and(|e| e.0.contains("does not exceed 1")), "{f}");
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
