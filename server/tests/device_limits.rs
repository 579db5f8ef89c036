//! Bounded log growth over real TLS (issue 10, "no device grows the log beyond what the
//! department's policy allows"): per-endpoint body limits sized on real evidence, unknown
//! claim keys refused before anything is stored, the policy's per-device limits refusing
//! a flood with 429 `quota_exceeded` and `Retry-After` (nothing logged), the metrics and
//! the agent that waits instead of hammering.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use ciborium::Value;
use pramaan_core::agent::{Agent, AgentError, CheckIn};
use pramaan_core::claims::{self, DeviceInfo, EnrollRequest, Evidence, Platform};
use pramaan_core::cose;
use pramaan_core::keys::{Signer as _, SoftwareSigner};
use pramaan_server::config::{Config, DEFAULT_ATTEST_BODY_LIMIT, DEFAULT_ENROLL_BODY_LIMIT};
use pramaan_testkit::*;

/// The largest real Android key attestation chain of the test data (DER, leaf first).
fn largest_android_chain() -> Vec<Vec<u8>> {
    fn pems(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                pems(&p, out);
            } else if p.extension().is_some_and(|x| x == "pem") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    pems(&real_evidence::android_dir(), &mut files);
    files
        .iter()
        .map(|p| {
            pramaan_core::evidence::x509::pem_certificates(
                &std::fs::read_to_string(p).expect("pem"),
            )
            .expect("chain")
        })
        .max_by_key(|c| c.iter().map(Vec::len).sum::<usize>())
        .expect("chains")
}

/// The largest real Apple App Attest attestation object of the test data.
fn largest_app_attest_object() -> Vec<u8> {
    let dir = real_evidence::android_dir().join("../apple-app-attest");
    ["ios-14.2.yaml", "ios-14.3.yaml", "ios-14.4.yaml"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(dir.join(f))
                .expect("yaml")
                .lines()
                .filter_map(|l| l.strip_prefix("attestationBase64:"))
                .map(|v| {
                    base64::engine::general_purpose::STANDARD
                        .decode(v.trim().trim_matches('\''))
                        .expect("base64")
                })
                .collect::<Vec<_>>()
        })
        .max_by_key(Vec::len)
        .expect("attestations")
}

fn enroll_body(signer: &SoftwareSigner, evidence: Evidence) -> Vec<u8> {
    let key = signer.public_key().expect("pk").to_cose_key_bytes();
    let client_data = [vec![7u8; 32], key.clone()].concat();
    let req = EnrollRequest {
        v: 1,
        token_hash: claims::enroll_token_hash("x").to_vec(),
        nonce: vec![7; 32],
        key,
        platform: Platform::Ios,
        device: DeviceInfo {
            model: "iPhone15,4".into(),
            os: "ios".into(),
            os_version: "18.1".into(),
        },
        evidence: Some(match evidence {
            Evidence::AppleAppAttest { attestation, .. } => Evidence::AppleAppAttest {
                attestation,
                key_id: vec![1; 32],
                client_data,
            },
            other => other,
        }),
    };
    cose::sign_es256(signer, b"", claims::encode(&req)).expect("sign")
}

/// The body limits are the largest real messages with room to spare; the measured sizes
/// are printed (`--nocapture`) for the design text.
#[test]
fn body_limits_fit_the_largest_real_evidence_with_headroom() {
    let signer = SoftwareSigner::generate().expect("key");
    let chain = largest_android_chain();
    let dev = Device {
        signer: SoftwareSigner::generate().expect("key"),
        id: uuid::Uuid::new_v4(),
        officer: "GAD-001".into(),
        next_nonce: vec![1; 32],
        anchor: vec![2; 32],
        seq: 0,
    };
    let plain = dev.attestation(Some(vec![1; 32]), 1, now()).len();
    let with_chain = {
        let claims = pramaan_core::claims::Attestation {
            evidence: Some(Evidence::AndroidKeyAttestation {
                chain: chain.clone(),
            }),
            ..claims_for(dev.id, "GAD-001", Some(vec![1; 32]), 1, now())
        };
        cose::sign_es256(&dev.signer, dev.id.as_bytes(), claims.to_cbor())
            .expect("sign")
            .len()
    };
    let enroll_apple = enroll_body(
        &signer,
        Evidence::AppleAppAttest {
            attestation: largest_app_attest_object(),
            key_id: Vec::new(),
            client_data: Vec::new(),
        },
    )
    .len();
    let enroll_android = enroll_body(&signer, Evidence::AndroidKeyAttestation { chain }).len();
    println!(
        "attest: {plain} B without evidence, {with_chain} B with the largest Android chain; \
         enroll: {enroll_apple} B with the largest App Attest object, {enroll_android} B with \
         the largest Android chain"
    );
    assert!(plain < 1024, "{plain}");
    // At least a third of the limit to spare over the largest real body.
    assert!(
        with_chain * 4 / 3 <= DEFAULT_ATTEST_BODY_LIMIT,
        "{with_chain}"
    );
    for e in [enroll_apple, enroll_android] {
        assert!(e * 4 / 3 <= DEFAULT_ENROLL_BODY_LIMIT, "{e}");
    }
    let c = Config::default();
    assert_eq!(
        (c.attest_body_limit(), c.enroll_body_limit()),
        (DEFAULT_ATTEST_BODY_LIMIT, DEFAULT_ENROLL_BODY_LIMIT)
    );
}

/// Each endpoint has its own limit: a body over it is 413 naming the limit, one at it is
/// read (and refused for what it is), and nothing changes.
#[test]
fn each_device_endpoint_has_its_own_body_limit() {
    let env = start();
    env.seed();
    let before = env.counts();
    for (path, limit) in [
        ("/v1/attest", DEFAULT_ATTEST_BODY_LIMIT),
        ("/v1/enroll", DEFAULT_ENROLL_BODY_LIMIT),
    ] {
        let over = env.post_device(path, &vec![0xa0; limit + 1]);
        assert_rejected(&over, 413, "too_large");
        let message = error_of(&over).expect("body").message;
        assert!(
            message.contains(&format!("{limit}-byte limit")),
            "{message}"
        );
        let at = env.post_device(path, &vec![0xa0; limit]);
        assert_ne!(at.status, 413, "{path}: {:?}", error_of(&at));
    }
    // An attestation-sized enrollment body is no problem; an enrollment-sized attestation is.
    let big = vec![0xa0; DEFAULT_ATTEST_BODY_LIMIT + 100];
    assert_ne!(env.post_device("/v1/enroll", &big).status, 413);
    assert_rejected(&env.post_device("/v1/attest", &big), 413, "too_large");
    assert_eq!(env.counts(), before);
}

/// A claims set with a key the protocol does not define (at the top or inside `apps`) is
/// 400 malformed naming the key, though correctly signed; nothing is stored or logged.
#[test]
fn unknown_claim_keys_are_refused_before_anything_is_stored() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    let before = env.counts();
    let claims = claims_for(dev.id, "GAD-001", Some(dev.next_nonce.clone()), 1, now());
    let mut map: Value = ciborium::from_reader(&claims.to_cbor()[..]).expect("cbor");
    let Value::Map(entries) = &mut map else {
        panic!("map")
    };
    entries.push(("padding".into(), Value::Bytes(vec![0; 4000])));
    let padded = claims::encode(&map);
    let body = cose::sign_es256(&dev.signer, dev.id.as_bytes(), padded).expect("sign");
    let r = env.post_device("/v1/attest", &body);
    assert_rejected(&r, 400, "malformed");
    let message = error_of(&r).expect("body").message;
    assert!(message.contains("unknown claim key padding"), "{message}");

    let mut map: Value = ciborium::from_reader(&claims.to_cbor()[..]).expect("cbor");
    let Value::Map(entries) = &mut map else {
        panic!("map")
    };
    for (k, v) in entries.iter_mut() {
        if *k == Value::from("apps")
            && let Value::Array(apps) = v
            && let Some(Value::Map(app)) = apps.first_mut()
        {
            app.push(("icon".into(), Value::Bytes(vec![0; 100])));
        }
    }
    let body =
        cose::sign_es256(&dev.signer, dev.id.as_bytes(), claims::encode(&map)).expect("sign");
    let r = env.post_device("/v1/attest", &body);
    assert_rejected(&r, 400, "malformed");
    let message = error_of(&r).expect("body").message;
    assert!(
        message.contains("unknown claim key apps[0].icon"),
        "{message}"
    );
    assert_eq!(env.counts(), before);
    // The same nonce, claims as the protocol defines them: accepted.
    env.attest_ok(&mut dev);
}

fn with_limits(env: &Env, per_day: u32, offline: u32) {
    let policy = format!(
        "{POLICY_GAD}\n[limits]\nattestations_per_day = {per_day}\noffline_per_day = {offline}\n"
    );
    let r = env
        .admin()
        .put(
            "/v1/departments/GAD/policy",
            "application/toml",
            policy.as_bytes(),
        )
        .expect("policy");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn metric(env: &Env, name: &str) -> Option<f64> {
    let m = env.admin().get("/metrics").expect("metrics");
    String::from_utf8_lossy(&m.body)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

/// One device sending as fast as it can: past the policy's allowance every attestation is
/// 429 `quota_exceeded` with `Retry-After`, the log grows by the allowance and no more,
/// and the metrics show the bytes and the refusals.
#[test]
fn a_flooding_device_grows_the_log_by_its_allowance_only() {
    let env = start();
    env.seed();
    with_limits(&env, 4, 2);
    let mut dev = env.enroll("GAD-001");
    let start = env.counts();
    let (mut accepted, mut refused) = (0, 0);
    let flood_until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < flood_until {
        dev.seq += 1;
        let body = dev.attestation(Some(dev.next_nonce.clone()), dev.seq, now());
        let r = env.post_device("/v1/attest", &body);
        match r.status {
            200 => {
                let result: claims::AttestResult = env.verify_answer(&r.body);
                dev.next_nonce = result.next_nonce;
                dev.anchor = anchor_of(&dev.next_nonce);
                accepted += 1;
            }
            429 => {
                assert_rejected(&r, 429, "quota_exceeded");
                let wait = r.retry_after.expect("Retry-After");
                assert!((86_000..=86_400).contains(&wait), "{wait}");
                refused += 1;
            }
            other => panic!("HTTP {other}: {:?}", error_of(&r)),
        }
    }
    // Offline deliveries are refused too, their nonce-free path no way around it.
    let body = dev.attestation(None, dev.seq + 1, now());
    assert_rejected(&env.post_device("/v1/attest", &body), 429, "quota_exceeded");
    refused += 1;
    let end = env.counts();
    assert_eq!(accepted, 4);
    assert!(refused > 4, "{refused}");
    assert_eq!(end.log_entries - start.log_entries, 4);
    assert_eq!(end.attestations - start.attestations, 4);
    let bytes = metric(&env, "pramaan_log_attestation_bytes_total").expect("bytes metric");
    assert!(bytes > 0.0 && bytes <= 4.0 * DEFAULT_ATTEST_BODY_LIMIT as f64 + 4096.0);
    assert_eq!(
        metric(&env, "pramaan_rejections_total{reason=\"quota_exceeded\"}"),
        Some(f64::from(refused))
    );
    assert_eq!(metric(&env, "pramaan_devices_limited_total"), Some(1.0));
    assert_eq!(
        metric(&env, "pramaan_top_device_log_bytes_hour"),
        Some(bytes)
    );
}

/// The agent of a limited device keeps its check-in (queued offline), remembers the
/// server's `Retry-After` and sends nothing until then; the outbox is kept, not dropped.
#[test]
fn the_agent_waits_out_a_limit_and_keeps_its_tokens() {
    let env = start();
    env.seed();
    with_limits(&env, 2, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = SoftwareSigner::load_or_generate(&dir.path().join("device.key")).expect("key");
    let agent = Agent::open_with(dir.path(), Arc::new(signer), options()).expect("agent");
    agent
        .enroll(&env.enrollment_uri("GAD-001"), &gad_facts(), None)
        .expect("enrolls");
    for _ in 0..2 {
        let c = agent.check_in(&gad_facts()).expect("check in");
        assert!(matches!(c, CheckIn::Delivered { .. }), "{c:?}");
    }
    let requests = env.request_count();
    let c = agent.check_in(&gad_facts()).expect("check in");
    assert!(matches!(c, CheckIn::Queued { pending: 1, .. }), "{c:?}");
    // One challenge and one refused attestation, then nothing more while waiting.
    let after_refusal = env.request_count();
    assert!(
        after_refusal - requests <= 2,
        "{requests} -> {after_refusal}"
    );
    let c = agent.check_in(&gad_facts()).expect("check in");
    assert!(matches!(c, CheckIn::Queued { pending: 2, .. }), "{c:?}");
    let e = agent.flush_outbox().expect_err("waiting");
    assert!(
        matches!(&e, AgentError::Rejected { status: 429, code, .. } if code == "quota_exceeded"),
        "{e}"
    );
    assert!(e.is_transient());
    assert_eq!(env.request_count(), after_refusal);
    let st = pramaan_core::agent::State::load(dir.path())
        .expect("state")
        .expect("enrolled");
    assert!(st.retry_at > now() + 86_000, "{}", st.retry_at);
    assert_eq!((st.dropped, agent.pending().expect("pending")), (0, 2));
}
