//! What the server tells whom (issue 12, "quiet and closed"): another department's IT
//! gets, for an officer or device of a department it may not see, exactly the answer for
//! an id that does not exist (no 403-versus-404 oracle), for every endpoint that takes an
//! officer id or device id; and `GET /metrics` needs an auditor or admin token while
//! `GET /healthz` stays open.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::transport::{HttpsClient, Response};

/// An officer id and a device id that exist nowhere.
const NO_OFFICER: &str = "GAD-999";
const NO_DEVICE: &str = "0b0c0d0e-0000-4000-8000-000000000000";

fn call(client: &HttpsClient, method: &str, path: &str, body: Option<&str>) -> Response {
    let body = body.map(|b| ("application/json", b.as_bytes()));
    client.request(method, path, body).expect("request")
}

/// The answer with the id asked for replaced by `ID`, so two answers about two ids
/// compare as answers: same status, same body otherwise.
fn shape(r: &Response, id: &str) -> (u16, String) {
    (r.status, String::from_utf8_lossy(&r.body).replace(id, "ID"))
}

/// Asks `other` (another department's IT) about `id` and about an id that does not exist;
/// both answers must be the same 404 and nothing may change.
fn assert_hidden(env: &Env, what: &str, ask: &dyn Fn(&str) -> Response, id: &str, missing: &str) {
    let before = env.counts();
    let hidden = ask(id);
    let absent = ask(missing);
    assert_eq!(
        hidden.status,
        404,
        "{what}: {}",
        String::from_utf8_lossy(&hidden.body)
    );
    assert_eq!(
        shape(&hidden, id),
        shape(&absent, missing),
        "{what}: another department's id is answered unlike a missing one"
    );
    assert_eq!(env.counts(), before, "{what} changed state");
}

#[test]
fn another_departments_officer_or_device_looks_exactly_like_a_missing_one() {
    let env = start();
    env.seed();
    let gad = env.client_with(&env.token("it", Some("GAD")));
    let rev = env.client_with(&env.token("it", Some("REV")));
    let mut device = env.enroll("GAD-001");
    env.attest_ok(&mut device);
    let device_id = device.id.to_string();

    // GET /v1/officers/{id}
    let officer = |c: &HttpsClient, id: &str| call(c, "GET", &format!("/v1/officers/{id}"), None);
    assert_eq!(officer(&gad, "GAD-001").status, 200);
    assert_hidden(
        &env,
        "officer",
        &|id| officer(&rev, id),
        "GAD-001",
        NO_OFFICER,
    );

    // POST /v1/enrollment-tokens
    let token = |c: &HttpsClient, id: &str| {
        let body = serde_json::json!({ "officer_id": id }).to_string();
        call(c, "POST", "/v1/enrollment-tokens", Some(&body))
    };
    assert_hidden(
        &env,
        "enrollment token",
        &|id| token(&rev, id),
        "GAD-002",
        NO_OFFICER,
    );
    assert_eq!(token(&gad, "GAD-002").status, 200);

    // POST /v1/devices/{id}/reattest
    let reattest = |c: &HttpsClient, id: &str| {
        call(c, "POST", &format!("/v1/devices/{id}/reattest"), Some("{}"))
    };
    assert_hidden(
        &env,
        "reattest",
        &|id| reattest(&rev, id),
        &device_id,
        NO_DEVICE,
    );
    assert_eq!(reattest(&gad, &device_id).status, 200);

    // POST /v1/devices/{id}/revoke
    let revoke = |c: &HttpsClient, id: &str| {
        call(
            c,
            "POST",
            &format!("/v1/devices/{id}/revoke"),
            Some(r#"{"reason":"lost"}"#),
        )
    };
    assert_hidden(
        &env,
        "revoke",
        &|id| revoke(&rev, id),
        &device_id,
        NO_DEVICE,
    );
    assert_eq!(revoke(&gad, &device_id).status, 200);
    // Revoked now: its own department hears so (409), another still hears "no device".
    assert_eq!(revoke(&gad, &device_id).status, 409);
    assert_hidden(
        &env,
        "revoke of a revoked device",
        &|id| revoke(&rev, id),
        &device_id,
        NO_DEVICE,
    );
    assert_hidden(
        &env,
        "reattest of a revoked device",
        &|id| reattest(&rev, id),
        &device_id,
        NO_DEVICE,
    );

    // Auditors and admins still see every department.
    let auditor = env.client_with(&env.token("auditor", None));
    assert_eq!(officer(&auditor, "GAD-001").status, 200);
    assert_eq!(officer(&env.admin(), "REV-001").status, 200);
}

#[test]
fn metrics_need_an_auditor_or_admin_token_and_healthz_stays_open() {
    let env = start();
    env.seed();
    let anyone = env.device_client();
    let r = anyone.get("/metrics").expect("metrics");
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert!(!String::from_utf8_lossy(&r.body).contains("pramaan_"));
    let it = env.client_with(&env.token("it", Some("GAD")));
    assert_eq!(it.get("/metrics").expect("metrics").status, 403);
    for (who, client) in [
        ("auditor", env.client_with(&env.token("auditor", None))),
        ("admin", env.admin()),
    ] {
        let r = client.get("/metrics").expect("metrics");
        assert_eq!(r.status, 200, "{who}");
        let text = String::from_utf8_lossy(&r.body);
        assert!(text.contains("pramaan_requests_total"), "{who}: {text}");
    }
    assert_eq!(anyone.get("/healthz").expect("healthz").status, 200);
}

/// `n - s` for the P-256 order `n`, computed here independently of the core.
fn other_s(s: &[u8]) -> [u8; 32] {
    const N: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63,
        0x25, 0x51,
    ];
    let half = |b: &[u8]| {
        (
            u128::from_be_bytes(b[..16].try_into().unwrap()),
            u128::from_be_bytes(b[16..32].try_into().unwrap()),
        )
    };
    let (n, s) = (half(&N), half(s));
    let (lo, borrow) = n.1.overflowing_sub(s.1);
    let hi = n.0 - s.0 - u128::from(borrow);
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&hi.to_be_bytes());
    out[16..].copy_from_slice(&lo.to_be_bytes());
    out
}

#[test]
fn an_attestation_with_a_high_s_is_refused_and_its_low_s_form_accepted() {
    let env = start();
    env.seed();
    let mut device = env.enroll("GAD-001");
    device.seq += 1;
    let low = device.attestation(Some(device.next_nonce.clone()), device.seq, now());
    // The signature is the COSE_Sign1's last element: its last 64 bytes are r || s.
    let at = low.len() - 32;
    assert!(pramaan_core::keys::is_low_s(&low[low.len() - 64..]));
    let mut high = low.clone();
    let flipped = other_s(&low[at..]);
    high[at..].copy_from_slice(&flipped);
    assert!(!pramaan_core::keys::is_low_s(&high[high.len() - 64..]));

    let before = env.counts();
    let r = env.post_device("/v1/attest", &high);
    assert_rejected(&r, 401, "bad_signature");
    let message = error_of(&r).expect("error body").message;
    assert!(message.contains("high S"), "{message}");
    assert_eq!(env.counts(), before, "a refused attestation changed state");

    let r = env.post_device("/v1/attest", &low);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}
