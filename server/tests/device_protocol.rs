//! Device protocol over real TLS on loopback (design section 5): full enrollment and
//! attestation, offline delivery, and every rejection of item 6 with its status and code,
//! each checked to change nothing (row counts, nonces and tokens used, log size, last_seq).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::claims::{AttestResult, Verdict};
use pramaan_core::cose;
use pramaan_core::keys::SoftwareSigner;
use pramaan_core::policy::Rule;
use pramaan_server::store::LogEntry;
use uuid::Uuid;

#[test]
fn enrollment_and_attestation_end_to_end() {
    let env = start();
    env.seed();
    let before = env.counts();
    let mut dev = env.enroll("GAD-001");
    let after_enroll = env.counts();
    assert_eq!(after_enroll.devices, before.devices + 1);
    assert_eq!(
        after_enroll.enrollment_tokens_used,
        before.enrollment_tokens_used + 1
    );
    // The enrollment token issued, then the enrollment.
    assert_eq!(after_enroll.log_entries, before.log_entries + 2);
    let row = env.device_row(&dev.id).expect("device stored");
    assert_eq!(row.officer_id, "GAD-001");
    assert_eq!(row.department, "GAD");
    assert_eq!(row.last_seq, None);

    let result = env.attest_ok(&mut dev);
    assert_eq!(result.device_id, dev.id);
    assert_eq!(result.seq, 1);
    // Software key: R5 (hardware-backed key) is a warning, nothing else fails.
    assert_eq!(result.status, Verdict::Warning, "{:?}", result.failures);
    assert!(
        result.failures.iter().all(|f| f.rule == Rule::R5),
        "{:?}",
        result.failures
    );
    assert_eq!(result.log_index, after_enroll.log_entries);
    assert_eq!(result.next_nonce.len(), 32);

    let second = env.attest_ok(&mut dev);
    assert_eq!(second.seq, 2);
    assert_eq!(second.log_index, result.log_index + 1);
    let c = env.counts();
    assert_eq!(c.attestations, 2);
    assert_eq!(env.device_row(&dev.id).unwrap().last_seq, Some(2));

    // The compliance view shows the officer with the latest verdict.
    let r = env
        .admin()
        .get("/v1/compliance?department=GAD")
        .expect("compliance");
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let officers = v["officers"].as_array().unwrap();
    let a = officers
        .iter()
        .find(|o| o["officer_id"] == "GAD-001")
        .unwrap();
    assert_eq!(a["status"], "warning", "{a}");
    assert_eq!(a["device_id"], dev.id.to_string());
    let b = officers
        .iter()
        .find(|o| o["officer_id"] == "GAD-002")
        .unwrap();
    assert_eq!(b["status"], "not_enrolled");
    assert_eq!(v["summary"]["not_enrolled"], 1);
    let csv = env
        .admin()
        .get("/v1/compliance?department=GAD&format=csv")
        .unwrap();
    assert_eq!(csv.status, 200);
    assert!(String::from_utf8_lossy(&csv.body).contains("GAD-002,B. Patel"));

    // The officer view lists the device with its latest result.
    let r = env.admin().get("/v1/officers/GAD-001").unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["devices"][0]["last_seq"], 2);
    assert_eq!(v["devices"][0]["latest"]["verdict"], "warning");

    // Metrics saw the verdicts.
    let m = env.admin().get("/metrics").unwrap();
    let text = String::from_utf8_lossy(&m.body).to_string();
    assert!(
        text.contains("pramaan_verdicts_total{status=\"warning\"} 2"),
        "{text}"
    );
}

#[test]
fn offline_attestation_is_accepted_within_the_window_and_capped_at_warning() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let body = dev.attestation(None, 1, now());
    let r = env.post_device("/v1/attest", &body);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    let res: AttestResult = env.verify_answer(&r.body);
    assert_eq!(res.status, Verdict::Warning);

    let before = env.counts();
    let old = dev.attestation(None, 2, now() - 8 * 86_400);
    let r = env.post_device("/v1/attest", &old);
    assert_rejected(&r, 409, "offline_too_old");
    assert_eq!(env.counts(), before);
}

/// Offline check-ins are chained to the last nonce the server sent the device and only a
/// short run of them is accepted: a phone cannot pre-sign its absence. An officer whose
/// latest check-ins are all offline shows why.
#[test]
fn offline_runs_are_chained_to_the_last_nonce_and_limited() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    let limit = pramaan_core::model::EvidencePolicy::default().max_offline_run;
    // Pre-signed tokens, as a phone left behind would have them.
    let tokens: Vec<Vec<u8>> = (1..=u64::from(limit) + 1)
        .map(|seq| dev.attestation(None, seq, now()))
        .collect();
    for (i, t) in tokens.iter().take(limit as usize).enumerate() {
        let r = env.post_device("/v1/attest", t);
        assert_eq!(r.status, 200, "offline token {}: {:?}", i + 1, error_of(&r));
    }
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &tokens[limit as usize]);
        assert_rejected(&r, 409, "offline_run_exceeded");
    });
    let v = env.compliance("GAD");
    let row = v["officers"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["officer_id"] == "GAD-001"))
        .expect("row")
        .clone();
    assert_eq!(row["status"], "warning", "{row}");
    let failures = row["failures"].to_string();
    assert!(
        failures.contains("no fresh server challenge since") && failures.contains("all offline"),
        "{failures}"
    );

    // Not chained: another anchor, or none at all.
    dev.seq = u64::from(limit) + 1;
    let forged_anchor = pramaan_core::claims::Attestation {
        anchor: Some(vec![9; 32]),
        ..pramaan_testkit::claims_for(dev.id, "GAD-001", None, dev.seq + 1, now())
    };
    let stranger =
        pramaan_core::cose::sign_es256(&dev.signer, dev.id.as_bytes(), forged_anchor.to_cbor())
            .unwrap();
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &stranger);
        assert_rejected(&r, 409, "offline_not_chained");
    });
    let unanchored = pramaan_testkit::claims_for(dev.id, "GAD-001", None, dev.seq + 1, now());
    let t = pramaan_core::cose::sign_es256(&dev.signer, dev.id.as_bytes(), unanchored.to_cbor())
        .unwrap();
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &t);
        assert_rejected(&r, 409, "offline_not_chained");
    });

    // A fresh challenge answered moves the anchor and resets the run; the old anchor is
    // refused from then on.
    let old_anchor_token = dev.attestation(None, dev.seq + 5, now());
    env.attest_ok(&mut dev);
    let r = env.post_device("/v1/attest", &dev.attestation(None, dev.seq + 1, now()));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    dev.seq += 1;
    let r = env.post_device("/v1/attest", &old_anchor_token);
    assert_rejected(&r, 409, "offline_not_chained");
}

/// Runs `f`, which must be rejected, and checks that nothing changed.
fn unchanged(env: &Env, device: Option<&Uuid>, f: impl FnOnce()) {
    let before = env.counts();
    let seq_before = device
        .and_then(|d| env.device_row(d))
        .map(|d| (d.last_seq, d.revoked));
    f();
    assert_eq!(
        env.counts(),
        before,
        "a rejected request changed the counts"
    );
    let seq_after = device
        .and_then(|d| env.device_row(d))
        .map(|d| (d.last_seq, d.revoked));
    assert_eq!(
        seq_after, seq_before,
        "a rejected request changed the device"
    );
}

#[test]
fn enrollment_token_reused_is_410_and_changes_nothing() {
    let env = start();
    env.seed();
    let token = env.enrollment_token("GAD-001");
    let signer = SoftwareSigner::generate().unwrap();
    let r = env.post_enroll(&token, &enroll_request(&signer, &token, &env.challenge()));
    assert_eq!(r.status, 200);
    let other = SoftwareSigner::generate().unwrap();
    let nonce = env.challenge();
    unchanged(&env, None, || {
        let r = env.post_enroll(&token, &enroll_request(&other, &token, &nonce));
        assert_rejected(&r, 410, "token_used");
    });
    // The nonce of the rejected request is still usable: nothing was consumed.
    let fresh = env.enrollment_token("GAD-002");
    let r = env.post_enroll(&fresh, &enroll_request(&other, &fresh, &nonce));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}

#[test]
fn enrollment_token_expired_is_410_and_changes_nothing() {
    let env = start_with(|c| c.enrollment_token_ttl_secs = 0);
    env.seed();
    let token = env.enrollment_token("GAD-001");
    let signer = SoftwareSigner::generate().unwrap();
    let nonce = env.challenge();
    unchanged(&env, None, || {
        let r = env.post_enroll(&token, &enroll_request(&signer, &token, &nonce));
        assert_rejected(&r, 410, "token_expired");
    });
}

#[test]
fn cancelled_enrollment_token_is_410_and_changes_nothing() {
    let env = start();
    env.seed();
    let token = env.enrollment_token("GAD-001");
    let r = env.cancel_enrollment_token(&token);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let signer = SoftwareSigner::generate().unwrap();
    let nonce = env.challenge();
    unchanged(&env, None, || {
        let r = env.post_enroll(&token, &enroll_request(&signer, &token, &nonce));
        assert_rejected(&r, 410, "token_cancelled");
    });
    // The cancellation is in the audit log, linked to the issuance by the token's hash.
    let hash = pramaan_core::claims::enroll_token_hash(&token).to_vec();
    let entries = env.log_entries();
    let issued = entries.iter().position(
        |e| matches!(e, LogEntry::EnrollTokenIssued { token_hash, .. } if *token_hash == hash),
    );
    let cancelled = entries.iter().position(|e| {
        matches!(e, LogEntry::EnrollTokenCancelled { token_hash, officer_id, .. }
            if *token_hash == hash && officer_id == "GAD-001")
    });
    assert!(
        issued.is_some() && cancelled > issued,
        "{issued:?} {cancelled:?}"
    );
    // A token cannot be cancelled twice; other tokens still enroll.
    let r = env.cancel_enrollment_token(&token);
    assert_eq!(r.status, 410);
    assert!(String::from_utf8_lossy(&r.body).contains("token_cancelled"));
    let mut dev = env.enroll("GAD-002");
    env.attest_ok(&mut dev);
}

#[test]
fn unknown_enrollment_token_and_forged_enrollment_are_401() {
    let env = start();
    env.seed();
    let signer = SoftwareSigner::generate().unwrap();
    let nonce = env.challenge();
    unchanged(&env, None, || {
        let r = env.post_enroll(
            "bm90LWEtdG9rZW4",
            &enroll_request(&signer, "bm90LWEtdG9rZW4", &nonce),
        );
        assert_rejected(&r, 401, "unknown_token");
    });
    // Proof of possession: signed by another key than the one enrolled.
    let token = env.enrollment_token("GAD-001");
    let mut body = enroll_request(&signer, &token, &nonce);
    let other = SoftwareSigner::generate().unwrap();
    let forged = enroll_request(&other, &token, &nonce);
    // Same payload (signer's key), other key's signature: splice the last 64 bytes.
    let n = body.len();
    body[n - 64..].copy_from_slice(&forged[forged.len() - 64..]);
    unchanged(&env, None, || {
        let r = env.post_enroll(&token, &body);
        assert_rejected(&r, 401, "bad_signature");
    });
}

#[test]
fn nonce_reused_is_409_and_changes_nothing() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    let used = dev.next_nonce.clone();
    env.attest_ok(&mut dev);
    let body = dev.attestation(Some(used), dev.seq + 1, now());
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &body);
        assert_rejected(&r, 409, "nonce_reused");
    });
    // Enrollment with a used nonce too.
    let token = env.enrollment_token("GAD-002");
    let signer = SoftwareSigner::generate().unwrap();
    let nonce = env.challenge();
    let r = env.post_enroll(&token, &enroll_request(&signer, &token, &nonce));
    assert_eq!(r.status, 200);
    let token2 = env.enrollment_token("GAD-002");
    unchanged(&env, None, || {
        let r = env.post_enroll(&token2, &enroll_request(&signer, &token2, &nonce));
        assert_rejected(&r, 409, "nonce_reused");
    });
}

#[test]
fn nonce_expired_is_409_and_changes_nothing() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    // A nonce of this server (its key) that expired a minute ago: no need to wait.
    let key = pramaan_server::nonce::NonceKey::load_or_create(
        &pramaan_server::server::Paths::new(env.data_dir()).nonce_key(),
    )
    .unwrap();
    let (expired, _) = key.issue(60, now() - 120).unwrap();
    let body = dev.attestation(Some(expired), 1, now());
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &body);
        assert_rejected(&r, 409, "nonce_expired");
    });
    // A nonce the server never issued.
    let body = dev.attestation(Some(vec![7; 32]), 1, now());
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &body);
        assert_rejected(&r, 409, "nonce_unknown");
    });
}

#[test]
fn seq_replayed_is_409_and_changes_nothing() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    env.attest_ok(&mut dev);
    env.attest_ok(&mut dev);
    for seq in [1, 2] {
        let body = dev.attestation(Some(dev.next_nonce.clone()), seq, now());
        unchanged(&env, Some(&dev.id), || {
            let r = env.post_device("/v1/attest", &body);
            assert_rejected(&r, 409, "seq_not_increasing");
        });
    }
    // The nonce was not consumed by the rejections: the next good one still uses it.
    env.attest_ok(&mut dev);
}

#[test]
fn forged_signature_is_401_and_changes_nothing() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let other = SoftwareSigner::generate().unwrap();
    let claims = claims_for(dev.id, "GAD-001", Some(dev.next_nonce.clone()), 1, now());
    let forged = cose::sign_es256(&other, dev.id.as_bytes(), claims.to_cbor()).unwrap();
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &forged);
        assert_rejected(&r, 401, "bad_signature");
    });
    // A flipped byte in a genuine token.
    let mut tampered = dev.attestation(Some(dev.next_nonce.clone()), 1, now());
    let i = tampered.len() / 2;
    tampered[i] ^= 0x01;
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &tampered);
        assert!(matches!(r.status, 400 | 401), "status {}", r.status);
    });
}

#[test]
fn unknown_kid_is_401_and_changes_nothing() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let stranger = Uuid::new_v4();
    let claims = claims_for(stranger, "GAD-001", Some(dev.next_nonce.clone()), 1, now());
    let body = cose::sign_es256(&dev.signer, stranger.as_bytes(), claims.to_cbor()).unwrap();
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &body);
        assert_rejected(&r, 401, "unknown_device");
    });
    let short = cose::sign_es256(&dev.signer, b"short", claims.to_cbor()).unwrap();
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &short);
        assert_rejected(&r, 401, "unknown_device");
    });
}

#[test]
fn revoked_device_is_403_and_changes_nothing() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    env.attest_ok(&mut dev);
    let device_id = dev.id;
    let revoke = |reason: &str| {
        env.admin()
            .post(
                &format!("/v1/devices/{device_id}/revoke"),
                "application/json",
                serde_json::json!({ "reason": reason })
                    .to_string()
                    .as_bytes(),
            )
            .unwrap()
    };
    // A reason is logged, shown to IT and sent to the device: no escape sequence, no
    // direction override, not blank; refused and nothing revoked.
    for bad in ["lost\u{1b}[2J", "\u{202e}tsol", "   "] {
        let r = revoke(bad);
        assert_eq!(
            r.status,
            400,
            "{bad:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    env.attest_ok(&mut dev);
    let r = revoke("phone lost");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = dev.attestation(Some(dev.next_nonce.clone()), dev.seq + 1, now());
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &body);
        assert_rejected(&r, 403, "revoked");
        // The device is told IT's reason: it is its own revocation.
        let err: pramaan_core::claims::ErrorBody = pramaan_core::claims::decode(&r.body).unwrap();
        assert_eq!(
            pramaan_core::api::revocation_reason(&err.message),
            Some("phone lost"),
            "{}",
            err.message
        );
    });
    let r = env.admin().get("/v1/compliance?department=GAD").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let a = v["officers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["officer_id"] == "GAD-001")
        .cloned()
        .unwrap();
    assert_eq!(a["status"], "revoked");
}

#[test]
fn oversized_and_garbage_bodies_are_rejected_and_change_nothing() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let big = vec![0xa0u8; 64 * 1024 + 1];
    for path in ["/v1/attest", "/v1/enroll"] {
        unchanged(&env, Some(&dev.id), || {
            let r = env.post_device(path, &big);
            assert_rejected(&r, 413, "too_large");
        });
    }
    let mut garbage: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"hello".to_vec(),
        vec![0xff; 100],
        vec![0xd2, 0x84],
        vec![0x9f; 1000],
    ];
    // A well-formed COSE_Sign1 whose payload is not a claims set, signed by the device.
    garbage.push(cose::sign_es256(&dev.signer, dev.id.as_bytes(), b"not claims".to_vec()).unwrap());
    for (i, g) in garbage.iter().enumerate() {
        for path in ["/v1/attest", "/v1/enroll"] {
            unchanged(&env, Some(&dev.id), || {
                let r = env.post_device(path, g);
                assert_eq!(r.status, 400, "garbage #{i} to {path}: {:?}", error_of(&r));
                assert!(error_of(&r).is_some());
            });
        }
    }
}

#[test]
fn claims_must_match_the_kid_and_the_officer() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let wrong_ueid = claims_for(
        Uuid::new_v4(),
        "GAD-001",
        Some(dev.next_nonce.clone()),
        1,
        now(),
    );
    let body = cose::sign_es256(&dev.signer, dev.id.as_bytes(), wrong_ueid.to_cbor()).unwrap();
    unchanged(&env, Some(&dev.id), || {
        assert_rejected(&env.post_device("/v1/attest", &body), 400, "ueid_mismatch");
    });
    let wrong_officer = claims_for(dev.id, "GAD-002", Some(dev.next_nonce.clone()), 1, now());
    let body = cose::sign_es256(&dev.signer, dev.id.as_bytes(), wrong_officer.to_cbor()).unwrap();
    unchanged(&env, Some(&dev.id), || {
        assert_rejected(
            &env.post_device("/v1/attest", &body),
            400,
            "officer_mismatch",
        );
    });
}

#[test]
fn rate_limit_answers_429() {
    let env = start_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 3;
    });
    let client = env.device_client();
    let statuses: Vec<u16> = (0..6)
        .map(|_| client.get("/v1/challenge").unwrap().status)
        .collect();
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    let limited = client.get("/v1/challenge").unwrap();
    assert_rejected(&limited, 429, "rate_limited");
}

#[test]
fn server_restarts_on_the_same_data_and_port_zero_works() {
    let mut env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    env.attest_ok(&mut dev);
    let port = env.server().addr.port();
    assert_ne!(port, 0);
    assert_eq!(env.server().url, format!("https://127.0.0.1:{port}"));
    env.restart_with(test_config());
    // Acknowledged means durable: the accepted attestation survived the restart.
    assert_eq!(env.device_row(&dev.id).unwrap().last_seq, Some(1));
    let c = env.counts();
    assert_eq!((c.devices, c.attestations), (1, 1));
}

#[test]
fn concurrent_replays_of_one_attestation_are_accepted_exactly_once() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let body = dev.attestation(Some(dev.next_nonce.clone()), 1, now());
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| env.post_device("/v1/attest", &body).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 409)),
        "{statuses:?}"
    );
    let c = env.counts();
    assert_eq!(c.attestations, 1);
    assert_eq!(env.device_row(&dev.id).unwrap().last_seq, Some(1));
}

#[test]
fn seq_beyond_i64_is_400_malformed_and_changes_nothing() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    for seq in [1u64 << 63, u64::MAX] {
        let body = dev.attestation(Some(dev.next_nonce.clone()), seq, now());
        unchanged(&env, Some(&dev.id), || {
            let r = env.post_device("/v1/attest", &body);
            assert_rejected(&r, 400, "malformed");
            let err = error_of(&r).expect("error body");
            assert!(err.message.contains("seq"), "{}", err.message);
        });
    }
    // Nothing was clamped or consumed: the device checks in with a normal seq and the
    // same nonce.
    let result = env.attest_ok(&mut dev);
    assert_eq!(result.seq, 1);
    assert_eq!(env.device_row(&dev.id).unwrap().last_seq, Some(1));
}

fn revoke(env: &Env, device: &Uuid) {
    let r = env
        .admin()
        .post(
            &format!("/v1/devices/{device}/revoke"),
            "application/json",
            br#"{"reason":"phone lost"}"#,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// A device key is enrolled once: refused for another officer (and for the same one),
/// and a revoked device's key never enrolls again.
#[test]
fn a_device_key_enrolls_once_and_a_revoked_key_never_again() {
    let env = start();
    env.seed();
    let signer = SoftwareSigner::generate().unwrap();
    let token = env.enrollment_token("GAD-001");
    let r = env.post_enroll(&token, &enroll_request(&signer, &token, &env.challenge()));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    let receipt: pramaan_core::claims::Receipt = env.verify_answer(&r.body);

    let other_officer = env.enrollment_token("GAD-002");
    let nonce = env.challenge();
    unchanged(&env, None, || {
        let r = env.post_enroll(
            &other_officer,
            &enroll_request(&signer, &other_officer, &nonce),
        );
        assert_rejected(&r, 409, "key_enrolled");
        assert!(error_of(&r).unwrap().message.contains("of another officer"));
    });

    revoke(&env, &receipt.device_id);
    let again = env.enrollment_token("GAD-001");
    unchanged(&env, None, || {
        let r = env.post_enroll(&again, &enroll_request(&signer, &again, &nonce));
        assert_rejected(&r, 403, "key_revoked");
    });
    // The tokens refused above are still usable with a new key.
    let fresh = SoftwareSigner::generate().unwrap();
    let r = env.post_enroll(&again, &enroll_request(&fresh, &again, &nonce));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}

/// One active device per officer unless IT's token allows a second; the token is sent
/// outside the signed request, and a token that does not match the request's hash (or
/// none) is refused.
#[test]
fn one_active_device_per_officer_unless_it_allows_a_second() {
    let env = start();
    env.seed();
    let first = env.enroll("GAD-001");
    let token = env.enrollment_token("GAD-001");
    let signer = SoftwareSigner::generate().unwrap();
    let nonce = env.challenge();
    unchanged(&env, None, || {
        let r = env.post_enroll(&token, &enroll_request(&signer, &token, &nonce));
        assert_rejected(&r, 409, "device_limit");
        assert!(
            error_of(&r)
                .unwrap()
                .message
                .contains(&first.id.to_string())
        );
    });
    // The token in the header must be the one whose hash was signed.
    let other = env.enrollment_token("GAD-001");
    unchanged(&env, None, || {
        let r = env.post_enroll(&other, &enroll_request(&signer, &token, &nonce));
        assert_rejected(&r, 400, "malformed");
        let r = env.post_device("/v1/enroll", &enroll_request(&signer, &token, &nonce));
        assert_rejected(&r, 401, "unknown_token");
    });
    // IT allows a second phone explicitly.
    let r = env
        .admin()
        .post(
            "/v1/enrollment-tokens",
            "application/json",
            br#"{"officer_id":"GAD-001","allow_additional":true}"#,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let second = pramaan_core::enroll_uri::EnrollmentUri::parse(v["uri"].as_str().unwrap())
        .unwrap()
        .token;
    let r = env.post_enroll(&second, &enroll_request(&signer, &second, &nonce));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    // After revoking every device, a normal token enrolls again.
    let receipt: pramaan_core::claims::Receipt = env.verify_answer(&r.body);
    revoke(&env, &first.id);
    revoke(&env, &receipt.device_id);
    let _ = env.enroll("GAD-001");
}

/// The audit log never holds an enrollment token: the signed request carries only its
/// SHA-256.
#[test]
fn the_audit_log_never_holds_an_enrollment_token() {
    let env = start();
    env.seed();
    let token = env.enrollment_token("GAD-001");
    let signer = SoftwareSigner::generate().unwrap();
    let body = enroll_request(&signer, &token, &env.challenge());
    let r = env.post_enroll(&token, &body);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    let r = env.admin().get("/v1/audit/entries?start=0&end=1").unwrap();
    assert_eq!(r.status, 200);
    let entries = String::from_utf8_lossy(&r.body).to_string();
    let raw = pramaan_core::encoding::b64url_decode(&token).unwrap();
    for needle in [token.as_bytes(), &raw[..]] {
        assert!(
            !r.body.windows(needle.len()).any(|w| w == needle),
            "the token is in the log: {entries}"
        );
    }
    let hash = pramaan_core::claims::enroll_token_hash(&token);
    assert!(
        body.windows(32).any(|w| w == hash),
        "the signed request carries the token's hash"
    );
}

/// Fresh evidence must bind a server nonce: with an offline attestation it is refused
/// and nothing changes.
#[test]
fn fresh_evidence_without_a_nonce_is_400_and_changes_nothing() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let claims = pramaan_core::claims::Attestation {
        anchor: Some(dev.anchor.clone()),
        evidence: Some(pramaan_core::claims::Evidence::AndroidKeyAttestation {
            chain: vec![vec![0x30, 0x00]],
        }),
        ..claims_for(dev.id, "GAD-001", None, 1, now())
    };
    let body = cose::sign_es256(&dev.signer, dev.id.as_bytes(), claims.to_cbor()).unwrap();
    unchanged(&env, Some(&dev.id), || {
        let r = env.post_device("/v1/attest", &body);
        assert_rejected(&r, 400, "malformed");
    });
}

#[test]
fn control_and_bidi_characters_in_claims_are_400_naming_the_claim_and_change_nothing() {
    use pramaan_core::claims::{self, Attestation, DeviceInfo, EnrollRequest, Platform};
    use pramaan_core::keys::Signer as _;
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    // The issue's example: a clear-screen, a cursor-home and a forged "compliant" line;
    // a right-to-left override that shows a domain backwards; a C1 control.
    type Edit = fn(&mut Attestation);
    let cases: [(&str, Edit); 4] = [
        ("os.version", |a| {
            a.os.version = "15\u{1b}[2J\u{1b}[H".into()
        }),
        ("groups[0].handle", |a| {
            a.groups[0].handle = "+919800000001\nGAD-009  compliant".into()
        }),
        ("email[0]", |a| {
            a.email[0] = "x@\u{202E}ni.vog.tarajug".into()
        }),
        ("apps[0].version", |a| {
            a.apps[0].version = "2.26\u{9b}31m".into()
        }),
    ];
    for (claim, edit) in cases {
        let mut c = claims_for(dev.id, &dev.officer, Some(dev.next_nonce.clone()), 1, now());
        edit(&mut c);
        let body = cose::sign_es256(&dev.signer, dev.id.as_bytes(), c.to_cbor()).unwrap();
        unchanged(&env, Some(&dev.id), || {
            let r = env.post_device("/v1/attest", &body);
            assert_rejected(&r, 400, "malformed");
            let message = error_of(&r).expect("error body").message;
            assert!(message.contains(&format!("`{claim}`")), "{message}");
            // The refusal does not echo the character back.
            assert!(
                !message.contains(['\u{1b}', '\u{202E}', '\u{9b}', '\n']),
                "{message}"
            );
        });
    }
    // Nothing was consumed: the same nonce and seq 1 are accepted with clean claims.
    assert_eq!(env.attest_ok(&mut dev).seq, 1);

    // Enrollment: the device's own description is refused the same way, and the
    // enrollment token stays unused.
    let token = env.enrollment_token("GAD-002");
    let signer = SoftwareSigner::generate().unwrap();
    let nonce = env.challenge();
    let req = EnrollRequest {
        v: 1,
        token_hash: claims::enroll_token_hash(&token).to_vec(),
        nonce: nonce.clone(),
        key: signer.public_key().unwrap().to_cose_key_bytes(),
        platform: Platform::Android,
        device: DeviceInfo {
            model: "Pixel 8\u{1b}]0;pwned\u{7}".into(),
            os: "android".into(),
            os_version: "15".into(),
        },
        evidence: None,
    };
    let body = cose::sign_es256(&signer, b"", claims::encode(&req)).unwrap();
    unchanged(&env, None, || {
        let r = env.post_enroll(&token, &body);
        assert_rejected(&r, 400, "malformed");
        let message = error_of(&r).expect("error body").message;
        assert!(message.contains("`device.model`"), "{message}");
    });
    let r = env.post_enroll(&token, &enroll_request(&signer, &token, &nonce));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}
