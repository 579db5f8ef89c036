//! `pramaan token inspect FILE [--key KEY] [--format json|text]`: decode any Pramaan COSE
//! message, and verify a device's signature on it.
//!
//! Support staff and auditors get a token from a device, a log entry or a bug report and
//! need to read it without a key: this shows the header (algorithm, kid), the payload with
//! its claims named (EAT integer keys as `eat_profile`/`ueid`/`eat_nonce`/`iat`, UUIDs as
//! UUIDs, bytes as hex) and the signature, and says plainly that the signature was NOT
//! verified. With `--key` (the device's COSE_Key as base64url, as `GET /v1/officers/{id}`
//! prints `public_key`, or a file holding it) the ES256 signature is verified and the
//! command fails when it does not verify. An audit bundle is not a token: the command says
//! to read it with `pramaan audit show`. The message kind is found by trying the protocol's decoders from the most to
//! the least specific; a payload none of them accepts is still shown as generic CBOR.
//! Bearer secrets (the enrollment token inside an enroll request) are shown only in part.

use std::io::Read as _;
use std::path::PathBuf;

use base64::Engine as _;
use ciborium::Value;
use clap::{Subcommand, ValueEnum};
use pramaan_core::claims::{
    self, AttestResult, Attestation, Challenge, EnrollRequest, ErrorBody, Evidence, Receipt,
};
use pramaan_core::cose::{Alg, Sign1};
use pramaan_core::keys::P256PublicKey;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use super::{CliError, CliResult};

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Decode any Pramaan COSE message to readable text or JSON (claims named, bytes as hex).
    /// The signature is not verified.
    Inspect {
        /// The token file: raw COSE bytes, or the same as hex or base64 text; `-` for stdin.
        file: PathBuf,
        /// Verify the ES256 signature with this device key: a COSE_Key as base64url (the
        /// `public_key` of `GET /v1/officers/{id}`), or a file holding it.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A one-line summary followed by pretty JSON.
    Text,
    /// JSON only.
    Json,
}

/// Why a file could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the input is empty")]
    Empty,
    #[error(
        "not a Pramaan token ({0}); expected the raw bytes of a COSE_Sign1 message, or them as hex or base64"
    )]
    NotCose(String),
    #[error("this is an audit bundle, not a token: read it with `pramaan audit show FILE`")]
    Bundle,
    #[error("--key: {0}")]
    Key(String),
}

pub fn run(cmd: TokenCmd) -> CliResult {
    match cmd {
        TokenCmd::Inspect { file, key, format } => {
            let bytes = read_input(&file).map_err(|e| CliError::new(e.to_string()))?;
            let key = key
                .as_deref()
                .map(device_key)
                .transpose()
                .map_err(|e| CliError::new(e.to_string()))?;
            let report = inspect_with_key(&bytes, key.as_ref())
                .map_err(|e| CliError::new(format!("{}: {e}", file.display())))?;
            let out = match format {
                Format::Json => pretty(&report),
                // The summary quotes the token's own header: escaped like the JSON.
                Format::Text => format!(
                    "{}\n{}",
                    pramaan_core::text::for_terminal(&summary_line(&report)),
                    pretty(&report)
                ),
            };
            outln!("{out}");
            if key.is_some() && report["signature_verified"] != true {
                return Err(CliError::new(format!(
                    "{}: the signature does NOT verify with the given key: {}",
                    file.display(),
                    report["signature_error"]
                        .as_str()
                        .unwrap_or("unknown reason")
                )));
            }
            Ok(())
        }
    }
}

fn read_input(file: &std::path::Path) -> Result<Vec<u8>, InspectError> {
    let path = file.display().to_string();
    let mut bytes = Vec::new();
    let res = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    res.map_err(|source| InspectError::Read { path, source })?;
    Ok(bytes)
}

fn pretty(v: &Json) -> String {
    crate::out::pretty_json(v)
}

/// Parses `input` as COSE_Sign1: the raw bytes first, then (for text input) as hex,
/// base64url or standard base64 of them.
fn parse_any(input: &[u8]) -> Result<(Sign1, Vec<u8>, &'static str), InspectError> {
    if input.is_empty() {
        return Err(InspectError::Empty);
    }
    let raw_err = match Sign1::parse(input) {
        Ok(s) => return Ok((s, input.to_vec(), "binary")),
        Err(e) => e,
    };
    if let Ok(text) = std::str::from_utf8(input) {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let candidates: [(Option<Vec<u8>>, &'static str); 3] = [
            (hex::decode(&compact).ok(), "hex"),
            (
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(compact.trim_end_matches('='))
                    .ok(),
                "base64url",
            ),
            (
                base64::engine::general_purpose::STANDARD
                    .decode(&compact)
                    .ok(),
                "base64",
            ),
        ];
        for (decoded, encoding) in candidates {
            if let Some(bytes) = decoded
                && let Ok(s) = Sign1::parse(&bytes)
            {
                return Ok((s, bytes, encoding));
            }
        }
    }
    Err(InspectError::NotCose(raw_err.to_string()))
}

/// A device key given to `--key`: base64url of a COSE_Key, or a file holding that text.
fn device_key(arg: &str) -> Result<P256PublicKey, InspectError> {
    let path = std::path::Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path)
            .map_err(|e| InspectError::Key(format!("cannot read {}: {e}", path.display())))?
    } else {
        arg.to_string()
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = pramaan_core::encoding::b64url_decode(compact.trim_end_matches('='))
        .map_err(|_| {
            InspectError::Key(
                "neither a readable file nor base64url text of a COSE_Key (a device's public_key, as the officer's record on the server shows it)"
                    .into(),
            )
        })?;
    P256PublicKey::from_cose_key_bytes(&bytes)
        .map_err(|e| InspectError::Key(format!("not a P-256 COSE_Key: {e}")))
}

/// The inspection report of one token, as JSON (no key).
#[cfg(test)]
fn inspect(input: &[u8]) -> Result<Json, InspectError> {
    inspect_with_key(input, None)
}

/// The inspection report of one token, as JSON, with the ES256 signature verified when a
/// device key is given.
pub fn inspect_with_key(input: &[u8], key: Option<&P256PublicKey>) -> Result<Json, InspectError> {
    if pramaan_tlog::bundle::Bundle::from_bytes(input).is_ok() {
        return Err(InspectError::Bundle);
    }
    let (msg, bytes, encoding) = parse_any(input)?;
    let alg = match msg.alg() {
        Some(Alg::Es256) => "ES256",
        Some(Alg::EdDsa) => "EdDSA",
        None => "unknown or missing",
    };
    let kid = msg.kid();
    let mut header = Map::new();
    header.insert("alg".into(), json!(alg));
    header.insert("kid".into(), json!(hex::encode(kid)));
    if let Ok(id) = Uuid::from_slice(kid) {
        header.insert("kid_uuid".into(), json!(id.to_string()));
    }
    let (kind, description, payload) = decode_payload(msg.unverified_payload());
    let mut report = json!({
        "kind": kind,
        "description": description,
        "encoding": encoding,
        "tagged": bytes.first() == Some(&0xd2),
        "size": bytes.len(),
        "header": header,
        "payload": payload,
        "signature": hex::encode(msg.signature()),
        "signature_verified": false,
        "note": "the signature was NOT verified (no key given): treat every value as a claim",
    });
    if let Some(key) = key {
        match msg.verify_es256(key, None) {
            Ok(_) => {
                report["signature_verified"] = json!(true);
                report["note"] = json!("the ES256 signature verifies with the given device key");
            }
            Err(e) => {
                report["signature_error"] = json!(e.to_string());
                report["note"] = json!(
                    "the signature does NOT verify with the given key: treat every value as a claim"
                );
            }
        }
    }
    Ok(report)
}

fn summary_line(report: &Json) -> String {
    let s = |k: &str| report[k].as_str().unwrap_or("?").to_string();
    let kid = report["header"]["kid_uuid"]
        .as_str()
        .or(report["header"]["kid"].as_str())
        .filter(|k| !k.is_empty())
        .unwrap_or("none");
    let verdict = if report["signature_verified"] == true {
        "signature verified with the given key"
    } else if report.get("signature_error").is_some() {
        "signature does NOT verify with the given key"
    } else {
        "signature NOT verified"
    };
    format!(
        "{} ({}), {}, kid {kid}, {} bytes: {verdict}",
        s("kind"),
        s("description"),
        report["header"]["alg"].as_str().unwrap_or("?"),
        report["size"]
    )
}

/// Tries each protocol decoder; the first that accepts the payload names it.
fn decode_payload(payload: &[u8]) -> (&'static str, &'static str, Json) {
    if let Ok(a) = Attestation::from_stored_cbor(payload) {
        return (
            "attestation",
            "device attestation, EAT claims set (POST /v1/attest)",
            attestation_json(&a),
        );
    }
    if let Ok(r) = claims::decode::<EnrollRequest>(payload) {
        return (
            "enroll_request",
            "device enrollment request (POST /v1/enroll)",
            enroll_json(&r),
        );
    }
    if let Ok(r) = claims::decode::<Receipt>(payload) {
        return (
            "enroll_receipt",
            "server enrollment receipt",
            json!({
                "device_id": r.device_id.to_string(),
                "officer_id": r.officer_id,
                "department": r.department,
                "assurance": r.assurance,
                "policy": serde_json::to_value(&r.policy).unwrap_or(Json::Null),
                "next_nonce": hex::encode(&r.next_nonce),
            }),
        );
    }
    if let Ok(r) = claims::decode::<AttestResult>(payload) {
        return (
            "attest_result",
            "server attestation result",
            json!({
                "device_id": r.device_id.to_string(),
                "seq": r.seq,
                "status": r.status.as_str(),
                "failures": r.failures,
                "log_index": r.log_index,
                "next_nonce": hex::encode(&r.next_nonce),
                "iat": r.iat,
                "iat_utc": utc(r.iat),
            }),
        );
    }
    if let Ok(e) = claims::decode::<ErrorBody>(payload) {
        return (
            "error",
            "server error",
            json!({ "error": e.error, "message": e.message }),
        );
    }
    if let Ok(c) = claims::decode::<Challenge>(payload) {
        return (
            "challenge",
            "server challenge",
            json!({ "nonce": hex::encode(&c.nonce), "expires": c.expires, "expires_utc": utc(c.expires) }),
        );
    }
    let generic = claims::decode::<Value>(payload)
        .map(|v| cbor_to_json(&v))
        .unwrap_or_else(|e| {
            let mut m = Map::new();
            m.insert("undecodable_hex".into(), json!(hex::encode(payload)));
            if let Ok(text) = std::str::from_utf8(payload) {
                m.insert("text".into(), json!(text));
            }
            m.insert("reason".into(), json!(format!("payload is not CBOR: {e}")));
            Json::Object(m)
        });
    (
        "unknown",
        "not a known Pramaan message; payload shown as generic CBOR",
        generic,
    )
}

fn utc(secs: u64) -> Json {
    super::enroll_token::rfc3339_opt(secs)
        .map(Json::String)
        .unwrap_or(Json::Null)
}

/// Platform evidence with its bytes as hex.
fn evidence_json(e: &Evidence) -> Json {
    match e {
        Evidence::AndroidKeyAttestation { chain } => json!({
            "type": "android_key_attestation",
            "chain": chain.iter().map(hex::encode).collect::<Vec<_>>(),
        }),
        Evidence::AppleAppAttest {
            attestation,
            key_id,
            client_data,
        } => json!({
            "type": "apple_app_attest",
            "attestation": hex::encode(attestation),
            "key_id": hex::encode(key_id),
            "client_data": hex::encode(client_data),
        }),
        Evidence::AppleAssertion { assertion } => json!({
            "type": "apple_assertion",
            "assertion": hex::encode(assertion),
        }),
    }
}

fn attestation_json(a: &Attestation) -> Json {
    let mut ueid = vec![0x01];
    ueid.extend_from_slice(a.device_id.as_bytes());
    json!({
        "eat_profile": a.protocol.profile(),
        "ueid": hex::encode(ueid),
        "device_id": a.device_id.to_string(),
        "eat_nonce": a.nonce.as_ref().map(hex::encode),
        "offline": a.nonce.is_none(),
        "iat": a.iat,
        "iat_utc": utc(a.iat),
        "seq": a.seq,
        "officer": a.officer,
        "apps": a.apps,
        "groups": a.groups,
        "email": a.email,
        "os": a.os,
        "lock": a.lock,
        "anchor": a.anchor.as_ref().map(hex::encode),
        "evidence": a.evidence.as_ref().map(evidence_json),
    })
}

fn enroll_json(r: &EnrollRequest) -> Json {
    let key = match P256PublicKey::from_cose_key_bytes(&r.key) {
        Ok(k) => json!({
            "kty": "EC2",
            "crv": "P-256",
            "x": hex::encode(&k.as_sec1()[1..33]),
            "y": hex::encode(&k.as_sec1()[33..]),
            "cose_key": hex::encode(&r.key),
        }),
        Err(e) => json!({ "cose_key": hex::encode(&r.key), "error": e.to_string() }),
    };
    let evidence = r.evidence.as_ref().map_or(Json::Null, evidence_json);
    json!({
        "v": r.v,
        "token_hash": hex::encode(&r.token_hash),
        "nonce": hex::encode(&r.nonce),
        "key": key,
        "platform": r.platform.as_str(),
        "device": r.device,
        "evidence": evidence,
    })
}

/// Generic CBOR as JSON: byte strings as hex, tags as `{tag, value}`, non-text map keys
/// in their CBOR-diagnostic-like text.
fn cbor_to_json(v: &Value) -> Json {
    match v {
        Value::Integer(i) => {
            let n = i128::from(*i);
            i64::try_from(n)
                .map(Json::from)
                .or_else(|_| u64::try_from(n).map(Json::from))
                .unwrap_or_else(|_| Json::String(n.to_string()))
        }
        Value::Bytes(b) => Json::String(hex::encode(b)),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or_else(|| Json::String(f.to_string())),
        Value::Text(t) => Json::String(t.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Null => Json::Null,
        Value::Tag(t, inner) => json!({ "tag": t, "value": cbor_to_json(inner) }),
        Value::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Text(t) => t.clone(),
                        other => cbor_to_json(other).to_string(),
                    };
                    (key, cbor_to_json(v))
                })
                .collect(),
        ),
        _ => Json::String(format!("{v:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pramaan_core::claims::{DeviceInfo, Failure, Platform};
    use pramaan_core::cose;
    use pramaan_core::keys::{ServerKey, Signer, SoftwareSigner};
    use pramaan_core::policy::Rule;

    fn attestation() -> Attestation {
        Attestation {
            nonce: Some(vec![0xab; 32]),
            seq: 9,
            ..pramaan_testkit::gad_claims(
                Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
                "GAD-001",
            )
        }
    }

    fn device_token(payload: Vec<u8>, kid: &[u8]) -> Vec<u8> {
        let signer = SoftwareSigner::generate().expect("key");
        cose::sign_es256(&signer, kid, payload).expect("sign")
    }

    #[test]
    fn attestation_claims_are_named() {
        let a = attestation();
        let token = device_token(a.to_cbor(), a.device_id.as_bytes());
        let r = inspect(&token).expect("inspects");
        assert_eq!(r["kind"], "attestation");
        assert_eq!(r["header"]["alg"], "ES256");
        assert_eq!(r["header"]["kid"], hex::encode(a.device_id.as_bytes()));
        assert_eq!(r["header"]["kid_uuid"], a.device_id.to_string());
        let p = &r["payload"];
        assert_eq!(p["eat_profile"], "urn:pramaan:eat:v2");
        assert_eq!(
            p["ueid"],
            format!("01{}", hex::encode(a.device_id.as_bytes()))
        );
        assert_eq!(p["device_id"], "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(p["eat_nonce"], "ab".repeat(32));
        assert_eq!(p["iat"], 1_790_000_000u64);
        assert_eq!(p["iat_utc"], "2026-09-21T14:13:20Z");
        assert_eq!(p["seq"], 9);
        assert_eq!(p["apps"][0]["id"], "com.whatsapp");
        assert_eq!(p["groups"][0]["handle"], "+919800000001");
        assert_eq!(p["lock"], true);
        assert_eq!(r["signature_verified"], false);
        assert_eq!(r["signature"].as_str().expect("sig").len(), 128);
        assert!(r["note"].as_str().expect("note").contains("NOT verified"));
        assert!(summary_line(&r).contains("signature NOT verified"));
        assert!(summary_line(&r).starts_with("attestation (device attestation"));
    }

    #[test]
    fn a_token_with_terminal_escapes_is_decoded_and_shown_escaped() {
        // The server refuses such claims; a token given to inspect is still read, and
        // what it claims is shown, never obeyed.
        let mut a = attestation();
        a.os.version = "15\u{1b}[2J\u{1b}[H".into();
        a.email[0] = "x@\u{202E}ni.vog".into();
        let token = device_token(a.to_cbor(), a.device_id.as_bytes());
        let r = inspect(&token).expect("inspects");
        assert_eq!(r["kind"], "attestation");
        let shown = pretty(&r);
        assert!(!shown.contains(['\u{1b}', '\u{202E}']), "{shown}");
        assert!(shown.contains("15\\u001b[2J\\u001b[H"), "{shown}");
        let back: Json = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(back["payload"]["os"]["version"], "15\u{1b}[2J\u{1b}[H");
    }

    #[test]
    fn offline_attestation_has_null_nonce() {
        let a = Attestation {
            nonce: None,
            ..attestation()
        };
        let r = inspect(&device_token(a.to_cbor(), b"k")).expect("inspects");
        assert_eq!(r["payload"]["eat_nonce"], Json::Null);
        assert_eq!(r["payload"]["offline"], true);
        assert!(
            r["header"].get("kid_uuid").is_none(),
            "2-byte kid is not a UUID"
        );
    }

    #[test]
    fn enroll_request_shows_key_and_only_the_token_hash() {
        let signer = SoftwareSigner::generate().expect("key");
        let pk = signer.public_key().expect("pk");
        let req = EnrollRequest {
            v: 1,
            token_hash: claims::enroll_token_hash("SECRETtokenvalue0123456789").to_vec(),
            nonce: vec![1; 32],
            key: pk.to_cose_key_bytes(),
            platform: Platform::Android,
            device: DeviceInfo {
                model: "Pixel 8".into(),
                os: "android".into(),
                os_version: "15".into(),
            },
            evidence: Some(Evidence::AndroidKeyAttestation {
                chain: vec![vec![0x30, 0x01, 0x00]],
            }),
        };
        let token = cose::sign_es256(&signer, b"", claims::encode(&req)).expect("sign");
        let r = inspect(&token).expect("inspects");
        assert_eq!(r["kind"], "enroll_request");
        let p = &r["payload"];
        assert_eq!(
            p["token_hash"],
            hex::encode(claims::enroll_token_hash("SECRETtokenvalue0123456789"))
        );
        assert!(p.get("token").is_none());
        assert_eq!(p["key"]["x"], hex::encode(&pk.as_sec1()[1..33]));
        assert_eq!(p["platform"], "android");
        assert_eq!(p["device"]["model"], "Pixel 8");
        assert_eq!(p["evidence"]["type"], "android_key_attestation");
        assert_eq!(p["evidence"]["chain"][0], "300100");
    }

    #[test]
    fn server_messages_are_recognised() {
        let key = ServerKey::generate().expect("key");
        let result = AttestResult {
            answer_keys: Vec::new(),
            device_id: Uuid::from_u128(5),
            seq: 3,
            status: claims::Verdict::Warning,
            failures: vec![Failure {
                rule: Rule::R5,
                detail: "no screen lock is set".into(),
            }],
            log_index: 17,
            next_nonce: vec![4; 32],
            iat: 5,
            reattest: false,
            next_pin: None,
        };
        let r = inspect(&cose::sign_eddsa(&key, b"srv", claims::encode(&result))).expect("ok");
        assert_eq!(r["kind"], "attest_result");
        assert_eq!(r["header"]["alg"], "EdDSA");
        assert_eq!(r["header"]["kid"], "737276");
        assert_eq!(r["payload"]["status"], "warning");
        assert_eq!(r["payload"]["failures"][0]["rule"], "R5");
        assert_eq!(r["payload"]["device_id"], Uuid::from_u128(5).to_string());

        let err = ErrorBody {
            error: "nonce_reused".into(),
            message: "nonce already used".into(),
        };
        let r = inspect(&cose::sign_eddsa(&key, b"", claims::encode(&err))).expect("ok");
        assert_eq!(r["kind"], "error");
        assert_eq!(r["payload"]["error"], "nonce_reused");

        let receipt = Receipt {
            answer_keys: Vec::new(),
            device_id: Uuid::from_u128(6),
            officer_id: "GAD-001".into(),
            department: "GAD".into(),
            policy: pramaan_core::policy::Policy {
                department: "GAD".into(),
                name: String::new(),
                check_in_hours: 24,
                email_domains: vec!["gujarat.gov.in".into()],
                platforms: vec![],
                groups: vec![],
                evidence: Default::default(),
                limits: Default::default(),
            },
            assurance: claims::Assurance::Hardware,
            evidence: None,
            next_nonce: vec![9; 32],
            next_pin: None,
            server_key: None,
        };
        let r = inspect(&cose::sign_eddsa(&key, b"", claims::encode(&receipt))).expect("ok");
        assert_eq!(r["kind"], "enroll_receipt");
        assert_eq!(r["payload"]["policy"]["email_domains"][0], "gujarat.gov.in");
        assert_eq!(r["payload"]["assurance"], "hardware");
    }

    #[test]
    fn unknown_payload_is_generic_cbor() {
        let payload = claims::encode(&Value::Map(vec![
            (Value::from(1), Value::Bytes(vec![0xde, 0xad])),
            (
                Value::from("x"),
                Value::Array(vec![Value::from(-3), Value::Bool(true)]),
            ),
        ]));
        let r = inspect(&device_token(payload, b"")).expect("ok");
        assert_eq!(r["kind"], "unknown");
        assert_eq!(r["payload"]["1"], "dead");
        assert_eq!(r["payload"]["x"], json!([-3, true]));
        let r = inspect(&device_token(vec![0xff, 0x00], b"")).expect("ok");
        assert_eq!(r["payload"]["undecodable_hex"], "ff00");
        assert!(r["payload"].get("text").is_none());
        let r = inspect(&device_token(b"This is the content.".to_vec(), b"")).expect("ok");
        assert_eq!(r["payload"]["text"], "This is the content.");
    }

    #[test]
    fn hex_and_base64_text_input_is_accepted() {
        let a = attestation();
        let token = device_token(a.to_cbor(), b"");
        let as_hex = format!("{}\n", hex::encode(&token));
        assert_eq!(inspect(as_hex.as_bytes()).expect("hex")["encoding"], "hex");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&token);
        assert_eq!(
            inspect(b64.as_bytes()).expect("b64url")["encoding"],
            "base64url"
        );
        let std64 = base64::engine::general_purpose::STANDARD.encode(&token);
        let r = inspect(std64.as_bytes()).expect("b64");
        assert!(r["encoding"] == "base64" || r["encoding"] == "base64url");
        assert_eq!(r["payload"]["officer"], "GAD-001");
    }

    #[test]
    fn non_cose_input_is_a_clear_error() {
        for input in [&b"hello, world"[..], &[0xa1, 0x01, 0x02], b"{\"a\":1}"] {
            let e = inspect(input).expect_err("not COSE");
            assert!(matches!(e, InspectError::NotCose(_)), "{e:?}");
            assert!(e.to_string().contains("not a Pramaan token"), "{e}");
        }
        assert!(matches!(inspect(b""), Err(InspectError::Empty)));
    }

    #[test]
    fn run_reports_missing_file() {
        let err = run(TokenCmd::Inspect {
            file: PathBuf::from("/nonexistent/token.cbor"),
            key: None,
            format: Format::Json,
        })
        .expect_err("missing file");
        assert!(
            err.to_string()
                .contains("cannot read /nonexistent/token.cbor"),
            "{err}"
        );
    }

    #[test]
    fn key_verifies_the_device_signature_and_a_wrong_key_fails() {
        let signer = SoftwareSigner::generate().expect("key");
        let a = attestation();
        let token = cose::sign_es256(&signer, a.device_id.as_bytes(), a.to_cbor()).expect("sign");
        let key_text =
            pramaan_core::encoding::b64url(&signer.public_key().expect("pk").to_cose_key_bytes());
        let key = device_key(&key_text).expect("key text");
        let r = inspect_with_key(&token, Some(&key)).expect("inspects");
        assert_eq!(r["signature_verified"], true);
        assert!(summary_line(&r).ends_with("signature verified with the given key"));

        let other = SoftwareSigner::generate().expect("key");
        let wrong = other.public_key().expect("pk");
        let r = inspect_with_key(&token, Some(&wrong)).expect("inspects");
        assert_eq!(r["signature_verified"], false);
        assert!(r["signature_error"].as_str().is_some());
        assert!(summary_line(&r).contains("does NOT verify"));

        // Through the command: the key from a file; a wrong key exits with an error.
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("token.cbor");
        std::fs::write(&file, &token).expect("write");
        let key_file = dir.path().join("device.key");
        std::fs::write(&key_file, format!("{key_text}\n")).expect("write");
        run(TokenCmd::Inspect {
            file: file.clone(),
            key: Some(key_file.display().to_string()),
            format: Format::Json,
        })
        .expect("verifies");
        let wrong_text = pramaan_core::encoding::b64url(&wrong.to_cose_key_bytes());
        let err = run(TokenCmd::Inspect {
            file,
            key: Some(wrong_text),
            format: Format::Text,
        })
        .expect_err("wrong key");
        assert!(
            err.0.contains("does NOT verify with the given key"),
            "{}",
            err.0
        );
        let err = device_key("not a key!").expect_err("garbage");
        assert!(
            err.to_string().contains("base64url text of a COSE_Key"),
            "{err}"
        );
    }

    #[test]
    fn a_bundle_is_sent_to_audit_show() {
        let b = pramaan_tlog::bundle::Bundle {
            version: pramaan_tlog::bundle::BUNDLE_VERSION,
            checkpoint: String::new(),
            start: 0,
            end: 0,
            entries: Vec::new(),
            enrollments: Vec::new(),
            consistency: Vec::new(),
            range_proof: Vec::new(),
            key_chain: Vec::new(),
        };
        let e = inspect(&b.to_bytes()).expect_err("a bundle");
        assert!(e.to_string().contains("pramaan audit show"), "{e}");
    }
}
