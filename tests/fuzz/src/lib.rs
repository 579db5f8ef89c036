//! Fuzz targets for every decoder a device or a file feeds, one per decoder.
//!
//! Why: every byte a phone sends and every file an administrator, IT or an auditor loads
//! may be chosen by someone who wants to look compliant or to stop the server, so each
//! decoder must answer any input with a value or an error, never a panic, and, where it
//! is cheap to say, a decoded value must survive its own encoding unchanged (a decoder
//! and an encoder that disagree are how a signed claim comes to mean two things).
//!
//! One table, [`TARGETS`], drives three runners:
//! - the coverage-guided fuzzer (`src/bin/pramaan-fuzz.rs`, libFuzzer on stable Rust,
//!   started by `tests/fuzz/run`), which calls [`Target::run`] on each input;
//! - `cargo test -p pramaan-fuzz`, which replays every seed and every saved crash in
//!   `tests/fuzz/regressions/<target>/` and runs a short mutation search (proptest);
//! - `pramaan-fuzz-seeds DIR`, which writes each target's seed corpus, built here from the
//!   project's fixtures (real Android chains and App Attest objects, the demo policy and
//!   CSVs, signed tokens, a signed audit bundle), so the fuzzer starts from deep inputs.
//!
//! A target panics only on a real finding: a decoder panicking, or a round trip that
//! changes the value (an `assert!` here).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use pramaan_core::agent::Facts;
use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{self, AttestResult, Attestation, Challenge, EnrollRequest, Receipt};
use pramaan_core::cose::Sign1;
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::evidence::{self, TrustAnchors, android, apple};
use pramaan_core::keys::{self, P256PublicKey, ServerKey};
use pramaan_core::model::Policy;
use pramaan_core::policy::{officers_from_csv, roster_from_csv};
use pramaan_tlog::bundle::{self, Bundle};
use pramaan_tlog::witness::{self, AddCheckpoint, WitnessKey};
use pramaan_tlog::{Checkpoint, LogEntry, LogSigner, VerifierKey};

mod seeds;

pub use seeds::write_seeds;

/// What a target made of one input (for the tests: a seed should be `Accepted`, so the
/// fuzzer starts past the first check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The decoder (and, where there is one, the verifier) accepted the input.
    Accepted,
    /// The decoder refused the input with an error.
    Rejected,
}

impl Outcome {
    fn of<T, E>(r: &Result<T, E>) -> Self {
        if r.is_ok() {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        }
    }
}

/// One fuzz target: a decoder and its seeds.
#[derive(Debug)]
pub struct Target {
    /// Name on the command line and folder name of its corpus and regressions.
    pub name: &'static str,
    /// What it feeds, for `tests/fuzz/run --list`.
    pub about: &'static str,
    /// Runs one input; panics only on a finding.
    pub run: fn(&[u8]) -> Outcome,
    /// The seed corpus, built from the project's fixtures.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target, in the order the runner goes through them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "attestation",
        about: "EAT claims of an attestation (Attestation::from_cbor), re-encoded",
        run: attestation,
        seeds: seeds::attestation,
    },
    Target {
        name: "enroll_request",
        about: "enrollment request claims (EnrollRequest::from_cbor), re-encoded",
        run: enroll_request,
        seeds: seeds::enroll_request,
    },
    Target {
        name: "messages",
        about: "server answers a device decodes (Receipt, AttestResult, Challenge: claims::decode)",
        run: messages,
        seeds: seeds::messages,
    },
    Target {
        name: "cose_sign1",
        about: "COSE_Sign1 (Sign1::parse), then the server's enrollment check of its payload",
        run: cose_sign1,
        seeds: seeds::cose_sign1,
    },
    Target {
        name: "enroll_uri",
        about: "the enrollment URI of the QR code (EnrollmentUri::parse), printed and re-read",
        run: enroll_uri,
        seeds: seeds::enroll_uri,
    },
    Target {
        name: "android_chain",
        about: "Android key attestation chains (verify_android; input: 8-byte now, u16-framed DER)",
        run: android_chain,
        seeds: seeds::android_chain,
    },
    Target {
        name: "key_description",
        about: "the KeyDescription extension of an Android leaf (parse_key_description)",
        run: key_description,
        seeds: seeds::key_description,
    },
    Target {
        name: "apple_attestation",
        about: "App Attest attestation objects (verify_apple_attestation)",
        run: apple_attestation,
        seeds: seeds::apple_attestation,
    },
    Target {
        name: "apple_assertion",
        about: "App Attest assertions (verify_apple_assertion_for)",
        run: apple_assertion,
        seeds: seeds::apple_assertion,
    },
    Target {
        name: "officers_csv",
        about: "the officer registry CSV (officers_from_csv)",
        run: officers_csv,
        seeds: seeds::officers_csv,
    },
    Target {
        name: "roster_csv",
        about: "a group roster CSV (roster_from_csv)",
        run: roster_csv,
        seeds: seeds::roster_csv,
    },
    Target {
        name: "policy",
        about: "a department policy, TOML or JSON (Policy::load), reloaded from its JSON",
        run: policy,
        seeds: seeds::policy,
    },
    Target {
        name: "facts",
        about: "the desktop agent's facts file (Facts::from_toml), re-encoded",
        run: facts,
        seeds: seeds::facts,
    },
    Target {
        name: "status_list",
        about: "Google's attestation revocation status list (StatusList::from_json)",
        run: status_list,
        seeds: seeds::status_list,
    },
    Target {
        name: "der_signature",
        about: "DER ECDSA signatures from the platform signers (keys::der_to_raw), re-encoded",
        run: der_signature,
        seeds: seeds::der_signature,
    },
    Target {
        name: "log_entry",
        about: "audit log leaves (LogEntry::from_leaf), re-encoded",
        run: log_entry,
        seeds: seeds::log_entry,
    },
    Target {
        name: "bundle",
        about: "audit bundles (Bundle::from_bytes, re-encoded, then verified against the fixture log key)",
        run: bundle,
        seeds: seeds::bundle,
    },
    Target {
        name: "checkpoint",
        about: "checkpoints, signed and cosigned notes, add-checkpoint bodies (tlog checkpoint and witness)",
        run: checkpoint,
        seeds: seeds::checkpoint,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The folder of saved crashing inputs that `cargo test` replays
/// (`tests/fuzz/regressions/<target>/`).
pub fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target)
}

// ---------------------------------------------------------------------------------------
// The fixed parameters some verifiers need (the seeds are made with the same ones).

/// Name of the fixture log whose signed bundles and checkpoints seed the tlog targets.
pub const LOG_ORIGIN: &str = "fuzz.pramaan.example/log";
/// Name of the fixture witness.
pub const WITNESS_NAME: &str = "fuzz.pramaan.example/witness";
/// The Android challenge of the akita and blueline fixture chains.
pub const ANDROID_CHALLENGE: &[u8] = b"challenge";

/// An Ed25519 key made from a fixed seed: the fuzzer and the seed writer run in different
/// processes and must agree on the log key without a key file.
pub fn fixed_server_key(seed_byte: u8) -> ServerKey {
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[seed_byte; 32]);
    // PKCS#8 v2 of an Ed25519 key (RFC 8410): a fixed prefix, the seed, a fixed infix, the
    // public key; the shape ring itself writes.
    let mut pkcs8 = vec![
        0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&[seed_byte; 32]);
    pkcs8.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    // A 32-byte seed always makes a key; were it not to, the missing public key makes
    // from_pkcs8 fail below, which stops the harness with the reason.
    if let Ok(pair) = pair {
        use ring::signature::KeyPair as _;
        pkcs8.extend_from_slice(pair.public_key().as_ref());
    }
    match ServerKey::from_pkcs8(&pkcs8) {
        Ok(k) => k,
        // Unreachable with ring 0.17 (the test `fixed_keys_load` proves it); a harness
        // that cannot build its fixture must stop loudly.
        Err(e) => panic!("the fixed fuzz key does not load: {e}"),
    }
}

/// The fixture log's signer.
pub fn log_signer() -> &'static LogSigner {
    static SIGNER: OnceLock<LogSigner> = OnceLock::new();
    SIGNER.get_or_init(|| LogSigner::new(LOG_ORIGIN.into(), fixed_server_key(7)))
}

fn log_verifier() -> &'static VerifierKey {
    static KEY: OnceLock<VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| match VerifierKey::parse(&log_signer().verifier_key()) {
        Ok(k) => k,
        Err(e) => panic!("the fixture log's verifier key does not parse: {e}"),
    })
}

/// The fixture witness's cosigner.
pub fn cosigner() -> &'static witness::Cosigner {
    static COSIGNER: OnceLock<witness::Cosigner> = OnceLock::new();
    COSIGNER.get_or_init(|| {
        match witness::Cosigner::new(WITNESS_NAME.into(), fixed_server_key(9)) {
            Ok(c) => c,
            Err(e) => panic!("the fixture witness does not build: {e}"),
        }
    })
}

fn witness_key() -> &'static WitnessKey {
    static KEY: OnceLock<WitnessKey> = OnceLock::new();
    KEY.get_or_init(|| match WitnessKey::parse(&cosigner().verifier_key()) {
        Ok(k) => k,
        Err(e) => panic!("the fixture witness key does not parse: {e}"),
    })
}

/// The App Attest document the Apple targets verify against: the iOS 14.3 attestation
/// and assertion of `core/tests/data/evidence/apple-app-attest/ios-14.3.yaml`.
pub mod apple_fixture {
    /// `clientDataBase64` of the document (the same for the attestation and assertion).
    pub const CLIENT_DATA: &[u8] = b"wurzelpfropf";
    /// `keyIdBase64`.
    pub const KEY_ID_B64: &str = "vkNBJ+U8wuzZ0acrCg6QhAv6YpgmykDX/Pt+M3D0Lls=";
    /// `timestamp` of the attestation, 2020-12-19T12:11:02Z, unix seconds.
    pub const NOW: u64 = 1_608_379_862;
    /// The attested key, uncompressed SEC1 hex (the document's `publicKey`).
    pub const PUBLIC_KEY_HEX: &str = "04fea57554c081d7165a22ca2c52f746916141ddab660be7053a231e1fd83d200b495eb3b85bc7fd0e5635ee9ea3b1c4d2cc796a9bbe8f3dbe3909bc44bdc0079e";
    /// The app id: `teamIdentifier.bundleIdentifier`.
    pub const APP_ID: &str = "6MURL8TA57.de.vincent-haupert.apple-appattest-poc";
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

// ---------------------------------------------------------------------------------------
// The targets.

fn attestation(data: &[u8]) -> Outcome {
    let r = Attestation::from_cbor(data);
    if let Ok(a) = &r {
        let again = Attestation::from_cbor(&a.to_cbor());
        assert_eq!(
            again.as_ref(),
            Ok(a),
            "an attestation changes when re-encoded"
        );
    }
    Outcome::of(&r)
}

fn enroll_request(data: &[u8]) -> Outcome {
    let r = EnrollRequest::from_cbor(data);
    if let Ok(req) = &r {
        let again = EnrollRequest::from_cbor(&claims::encode(req));
        assert_eq!(
            again.as_ref(),
            Ok(req),
            "an enroll request changes when re-encoded"
        );
        // What the server does next with its key.
        let _ = P256PublicKey::from_cose_key_bytes(&req.key);
    }
    Outcome::of(&r)
}

fn messages(data: &[u8]) -> Outcome {
    let receipt = claims::decode::<Receipt>(data);
    if let Ok(r) = &receipt {
        let again = claims::decode::<Receipt>(&claims::encode(r));
        assert_eq!(
            again.as_ref().ok(),
            Some(r),
            "a receipt changes when re-encoded"
        );
    }
    let result = claims::decode::<AttestResult>(data);
    if let Ok(r) = &result {
        let again = claims::decode::<AttestResult>(&claims::encode(r));
        assert_eq!(
            again.as_ref().ok(),
            Some(r),
            "a result changes when re-encoded"
        );
    }
    let challenge = claims::decode::<Challenge>(data);
    if receipt.is_ok() || result.is_ok() || challenge.is_ok() {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}

fn cose_sign1(data: &[u8]) -> Outcome {
    let r = Sign1::parse(data);
    if let Ok(msg) = &r {
        let _ = (msg.kid(), msg.alg(), msg.signature());
        // The server's enrollment path: the payload names the key that must have signed.
        let payload = msg.unverified_payload();
        if let Ok(req) = EnrollRequest::from_cbor(payload)
            && let Ok(key) = P256PublicKey::from_cose_key_bytes(&req.key)
        {
            return Outcome::of(&msg.verify_es256(&key, None));
        }
        if Attestation::from_cbor(payload).is_ok() {
            let _ = msg.verify_eddsa(&[0u8; 32], Some(msg.kid()));
        }
    }
    Outcome::of(&r)
}

fn enroll_uri(data: &[u8]) -> Outcome {
    let Some(text) = text(data) else {
        return Outcome::Rejected;
    };
    let r = EnrollmentUri::parse(text);
    if let Ok(uri) = &r {
        let again = EnrollmentUri::parse(&uri.to_string());
        assert!(
            again.as_ref() == Ok(uri),
            "an enrollment URI changes when printed"
        );
    }
    Outcome::of(&r)
}

/// Splits the android_chain input: 8 bytes of "now" (big-endian unix seconds), then
/// certificates each preceded by a big-endian u16 length (a short last one is cut).
pub fn split_chain(data: &[u8]) -> (u64, Vec<Vec<u8>>) {
    let (now, mut rest) = match data.split_first_chunk::<8>() {
        Some((now, rest)) => (u64::from_be_bytes(*now), rest),
        None => (0, &[][..]),
    };
    let mut chain = Vec::new();
    while let Some((len, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(after.len());
        let (cert, next) = after.split_at(len);
        chain.push(cert.to_vec());
        rest = next;
    }
    (now, chain)
}

/// The android_chain input of a chain at `now` (the inverse of [`split_chain`]).
pub fn join_chain(now: u64, chain: &[Vec<u8>]) -> Vec<u8> {
    let mut out = now.to_be_bytes().to_vec();
    for cert in chain {
        let len = u16::try_from(cert.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&cert[..usize::from(len)]);
    }
    out
}

fn google_roots() -> &'static TrustAnchors {
    static ROOTS: OnceLock<TrustAnchors> = OnceLock::new();
    ROOTS.get_or_init(TrustAnchors::google_builtin)
}

fn apple_roots() -> &'static TrustAnchors {
    static ROOTS: OnceLock<TrustAnchors> = OnceLock::new();
    ROOTS.get_or_init(TrustAnchors::apple_builtin)
}

fn android_chain(data: &[u8]) -> Outcome {
    let (now, chain) = split_chain(data);
    let r = android::verify_android(&chain, ANDROID_CHALLENGE, now, google_roots());
    match &r {
        Ok(att) => {
            let _ = evidence::android_facts(att, now);
        }
        // The challenge is checked last: a chain that verifies with another challenge
        // went through every decoder (what a seed must reach).
        Err(evidence::EvidenceError::ChallengeMismatch) => return Outcome::Accepted,
        Err(_) => {}
    }
    if let Some(leaf) = chain.first() {
        let _ = android::decode_leaf(leaf);
    }
    Outcome::of(&r)
}

fn key_description(data: &[u8]) -> Outcome {
    let r = android::parse_key_description(data);
    if let Ok(kd) = &r {
        let _ = kd.root_of_trust();
    }
    let _ = android::parse_attestation_application_id(data);
    Outcome::of(&r)
}

fn apple_attestation(data: &[u8]) -> Outcome {
    let cdh = sha256(apple_fixture::CLIENT_DATA);
    let key_id = base64::engine::general_purpose::STANDARD
        .decode(apple_fixture::KEY_ID_B64)
        .unwrap_or_default();
    let r = apple::verify_apple_attestation(data, &cdh, &key_id, apple_fixture::NOW, apple_roots());
    if let Ok(a) = &r {
        let _ = evidence::apple_facts(a, apple_fixture::NOW);
        let _ = a.is_for_app(apple_fixture::APP_ID);
    }
    Outcome::of(&r)
}

fn apple_assertion(data: &[u8]) -> Outcome {
    let cdh = sha256(apple_fixture::CLIENT_DATA);
    let key = hex_decode(apple_fixture::PUBLIC_KEY_HEX);
    let rp = sha256(apple_fixture::APP_ID.as_bytes());
    Outcome::of(&apple::verify_apple_assertion_for(data, &cdh, &key, &rp, 0))
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| s.get(2 * i..2 * i + 2))
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

fn officers_csv(data: &[u8]) -> Outcome {
    let Some(text) = text(data) else {
        return Outcome::Rejected;
    };
    let (officers, errors) = officers_from_csv(text);
    for e in &errors {
        let _ = e.to_string();
    }
    if officers.is_empty() || !errors.is_empty() {
        Outcome::Rejected
    } else {
        Outcome::Accepted
    }
}

fn roster_csv(data: &[u8]) -> Outcome {
    let Some(text) = text(data) else {
        return Outcome::Rejected;
    };
    let r = roster_from_csv(text);
    if let Ok(rows) = &r {
        let _ = pramaan_core::policy::Roster::from_rows(rows.rows.clone());
    }
    Outcome::of(&r)
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

fn policy(data: &[u8]) -> Outcome {
    let Some(text) = text(data) else {
        return Outcome::Rejected;
    };
    let r = Policy::load(text, catalog());
    if let Ok(p) = &r {
        // The server stores and logs the policy as JSON and reloads it from there.
        let json = serde_json::to_string(p).unwrap_or_default();
        let again = Policy::load(&json, catalog());
        assert_eq!(
            again.as_ref(),
            Ok(p),
            "a policy changes when reloaded from its JSON"
        );
    }
    Outcome::of(&r)
}

fn facts(data: &[u8]) -> Outcome {
    let Some(text) = text(data) else {
        return Outcome::Rejected;
    };
    let r = Facts::from_toml(text);
    if let Ok(f) = &r {
        let toml = toml::to_string(f).unwrap_or_default();
        let again = Facts::from_toml(&toml);
        assert_eq!(
            again.as_ref(),
            Ok(f),
            "a facts file changes when re-encoded"
        );
    }
    Outcome::of(&r)
}

fn status_list(data: &[u8]) -> Outcome {
    let Some(text) = text(data) else {
        return Outcome::Rejected;
    };
    let r = evidence::StatusList::from_json(text);
    if let Ok(list) = &r {
        let _ = (list.len(), list.get("1"));
    }
    Outcome::of(&r)
}

/// Minimal DER of `ECDSA-Sig-Value` for a raw `r || s` (the encoding the platform
/// signers produce): each integer without leading zeros, with one zero before a top bit.
pub fn raw_to_der(raw: &[u8; 64]) -> Vec<u8> {
    fn int(x: &[u8]) -> Vec<u8> {
        let start = x.iter().position(|&b| b != 0).unwrap_or(x.len() - 1);
        let x = &x[start..];
        let mut out = vec![0x02];
        let pad = x[0] & 0x80 != 0;
        // At most 33 bytes: the length fits one byte.
        out.push((x.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(x);
        out
    }
    let (r, s) = (int(&raw[..32]), int(&raw[32..]));
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    out
}

fn der_signature(data: &[u8]) -> Outcome {
    let r = keys::der_to_raw(data);
    if let Ok(raw) = &r {
        // Strict DER has one encoding per value: what was accepted is that encoding.
        assert_eq!(
            raw_to_der(raw),
            data,
            "der_to_raw accepted a DER signature that is not the encoding of what it returned"
        );
    }
    Outcome::of(&r)
}

fn log_entry(data: &[u8]) -> Outcome {
    let r = LogEntry::from_leaf(data);
    if let Ok(e) = &r {
        let again = LogEntry::from_leaf(&e.to_leaf());
        assert_eq!(
            again.as_ref().ok(),
            Some(e),
            "a log entry changes when re-encoded"
        );
        let _ = (e.kind(), e.at(), e.device_id());
    }
    Outcome::of(&r)
}

fn bundle(data: &[u8]) -> Outcome {
    let r = Bundle::from_bytes(data);
    let Ok(b) = &r else {
        return Outcome::Rejected;
    };
    let again = Bundle::from_bytes(&b.to_bytes());
    assert_eq!(
        again.as_ref().ok(),
        Some(b),
        "a bundle changes when re-encoded"
    );
    // One thread: the fuzzer runs many processes, not one wide one.
    Outcome::of(&bundle::verify_with_threads(b, log_verifier(), None, 1))
}

fn checkpoint(data: &[u8]) -> Outcome {
    let _ = AddCheckpoint::parse(data);
    let Some(text) = text(data) else {
        return Outcome::Rejected;
    };
    if let Ok(cp) = Checkpoint::parse(text) {
        let again = Checkpoint::parse(&cp.body());
        assert_eq!(
            again.as_ref(),
            Ok(&cp),
            "a checkpoint body changes when re-read"
        );
    }
    let _ = bundle::unverified_checkpoint(text);
    let _ = witness::count_cosignatures(text, std::slice::from_ref(witness_key()));
    let _ = witness_key().verify(text);
    let _ = VerifierKey::parse(text);
    let _ = WitnessKey::parse(text);
    Outcome::of(&log_verifier().verify_checkpoint(text))
}
