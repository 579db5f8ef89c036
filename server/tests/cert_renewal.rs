//! TLS certificate renewal and key change end to end (issue 15, design sections 5 and 9):
//! a real server over real TLS, enrolled core agents, `admin renew-cert`'s library
//! functions on the running server's data directory, no restart.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pramaan_core::agent::{Agent, AgentError, CheckIn, State};
use pramaan_core::keys::SoftwareSigner;
use pramaan_core::transport::{HttpsClient, Trust, b64url};
use pramaan_server::cert_renewal::{self, RELOAD_INTERVAL};
use pramaan_server::server::Paths;
use pramaan_server::tls;
use pramaan_testkit::*;

/// Longer than the resolver's reload interval: a change on disk is then served.
fn wait_for_reload() {
    std::thread::sleep(RELOAD_INTERVAL + Duration::from_millis(700));
}

fn agent(dir: &Path) -> Agent {
    let signer = SoftwareSigner::generate().expect("key");
    Agent::open_with(dir, Arc::new(signer), options()).expect("agent")
}

fn delivered(agent: &Agent, officer: &str) -> pramaan_core::claims::AttestResult {
    let facts = compliant_facts(registry_email(officer), registry_handle(officer));
    match agent.check_in(&facts).expect("check in") {
        CheckIn::Delivered { result, .. } => result,
        other => panic!("not delivered: {other:?}"),
    }
}

fn admin_pinned(env: &Env, pin: [u8; 32]) -> HttpsClient {
    HttpsClient::new(env.url(), Trust::Pin(pin), options())
        .expect("client")
        .with_bearer(env.admin_token.clone())
}

fn tls_status(env: &Env, pin: [u8; 32]) -> serde_json::Value {
    let r = admin_pinned(env, pin).get("/dashboard/tls").expect("tls");
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).expect("json")
}

fn metrics(env: &Env, pin: [u8; 32]) -> String {
    let r = admin_pinned(env, pin).get("/metrics").expect("metrics");
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).expect("utf-8")
}

#[test]
fn renewing_with_the_same_key_changes_nothing_for_an_enrolled_agent() {
    let env = start();
    env.seed();
    let paths = Paths::new(env.data_dir());
    let state = tempfile::tempdir().expect("tempdir");
    let a = agent(state.path());
    a.enroll(&env.enrollment_uri("GAD-001"), &gad_facts(), None)
        .expect("enrolls");
    delivered(&a, "GAD-001");
    let before = State::load(state.path()).expect("state").expect("enrolled");

    let old_chain = std::fs::read(paths.cert()).expect("cert");
    let old_not_after = tls::not_after_of_chain(&old_chain, &paths.cert()).expect("not after");
    let old_ca = std::fs::read(paths.ca()).expect("ca");
    let status = tls_status(&env, env.server().pin);
    assert_eq!(status["not_after"], old_not_after);
    assert!(status["warning"].is_null(), "825 days ahead: {status}");

    // A shorter certificate, to see the warning: inside 60 days of its expiry.
    let renewed = cert_renewal::renew(&paths, 30).expect("renew");
    assert_eq!(renewed.pin, env.server().pin, "same key, same pin");
    assert!(!renewed.new_ca, "the CA key made by admin init is kept");
    assert_eq!(std::fs::read(paths.ca()).expect("ca"), old_ca);
    wait_for_reload();
    let status = tls_status(&env, env.server().pin);
    assert_eq!(
        status["not_after"], renewed.not_after,
        "served without a restart"
    );
    assert!(
        status["warning"]
            .as_str()
            .expect("warning")
            .contains("renew-cert"),
        "{status}"
    );
    assert!(metrics(&env, env.server().pin).contains(&format!(
        "pramaan_tls_cert_expiry_timestamp_seconds{{role=\"current\"}} {}",
        renewed.not_after
    )));

    // And back to a long one: later than the first, no warning.
    std::thread::sleep(Duration::from_millis(1100));
    let renewed = cert_renewal::renew(&paths, tls::LEAF_DAYS).expect("renew");
    assert!(renewed.not_after > old_not_after);
    wait_for_reload();
    let status = tls_status(&env, env.server().pin);
    assert_eq!(status["not_after"], renewed.not_after);
    assert!(status["warning"].is_null(), "{status}");

    // The agent checks in with nothing changed, and a `--ca tls/ca.pem` client still
    // validates the chain.
    delivered(&a, "GAD-001");
    let after = State::load(state.path()).expect("state").expect("enrolled");
    assert_eq!(after.pin, before.pin);
    assert!(after.pin_change.is_empty());
    let by_ca = HttpsClient::new(env.url(), Trust::CaPem(old_ca), options()).expect("client");
    assert_eq!(by_ca.get("/healthz").expect("healthz").status, 200);
}

#[test]
fn a_new_key_is_learnt_during_the_transition_and_a_phone_that_missed_it_recovers() {
    let env = start();
    env.seed();
    let paths = Paths::new(env.data_dir());
    let old_pin = env.server().pin;
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let a = agent(dir_a.path());
    a.enroll(&env.enrollment_uri("GAD-001"), &gad_facts(), None)
        .expect("a enrolls");
    delivered(&a, "GAD-001");
    let b = agent(dir_b.path());
    let b_facts = compliant_facts(registry_email("GAD-002"), registry_handle("GAD-002"));
    let b_enrolled = b
        .enroll(&env.enrollment_uri("GAD-002"), &b_facts, None)
        .expect("b enrolls");
    delivered(&b, "GAD-002");

    // Too short a transition is refused by the command, with what it means.
    assert!(cert_renewal::check_transition(3600).is_err());
    let takes_over_at = now() + 6;
    let staged = cert_renewal::stage_new_key(&paths, takes_over_at, tls::LEAF_DAYS).expect("stage");
    assert_ne!(staged.pin, old_pin);
    assert!(matches!(
        cert_renewal::stage_new_key(&paths, takes_over_at, tls::LEAF_DAYS),
        Err(cert_renewal::CertError::AlreadyStaged(_))
    ));
    wait_for_reload();

    // During the transition: the old key is served, answers name the next pin.
    let result = delivered(&a, "GAD-001");
    let next = result.next_pin.expect("the answer names the next pin");
    assert_eq!(next.pin, staged.pin.to_vec());
    assert_eq!(next.takes_over_at, takes_over_at);
    let st = State::load(dir_a.path()).expect("state").expect("enrolled");
    assert_eq!(st.pin, b64url(&old_pin), "still the old key");
    assert_eq!(st.pin_change.next, Some(b64url(&staged.pin)));
    let text = metrics(&env, old_pin);
    assert!(
        text.contains(&format!(
            "pramaan_tls_cert_expiry_timestamp_seconds{{role=\"next\"}} {}",
            staged.not_after
        )) && text.contains(&format!(
            "pramaan_tls_next_key_takeover_timestamp_seconds {takes_over_at}"
        )),
        "{text}"
    );

    // The takeover, without a restart.
    while now() <= takes_over_at {
        std::thread::sleep(Duration::from_millis(200));
    }
    let result = delivered(&a, "GAD-001");
    assert!(result.next_pin.is_none(), "taken over: nothing to announce");
    let st = State::load(dir_a.path()).expect("state").expect("enrolled");
    assert_eq!(
        st.pin,
        b64url(&staged.pin),
        "the new key is the agent's pin now"
    );
    assert!(st.pin_change.is_empty());
    assert_eq!(tls_status(&env, staged.pin)["pin"], b64url(&staged.pin));

    // B did not check in: a clear error, recorded, with the way out.
    let e = b.check_in(&b_facts).expect_err("unknown key");
    assert!(matches!(e, AgentError::ServerKeyChanged), "{e:?}");
    assert!(
        e.to_string()
            .contains("ask department IT for a new QR code and enroll again"),
        "{e}"
    );
    let st = State::load(dir_b.path()).expect("state").expect("enrolled");
    assert!(st.pin_change.mismatch_at.is_some());

    // The recovery: IT revokes the stranded enrollment and issues a new QR code (it
    // carries the new pin); the phone enrolls again over its old enrollment with a new
    // key, and checks in.
    let admin = admin_pinned(&env, staged.pin);
    let r = admin
        .post(
            &format!("/v1/devices/{}/revoke", b_enrolled.device_id),
            "application/json",
            br#"{"reason":"missed the TLS key change"}"#,
        )
        .expect("revoke");
    assert!(r.is_success(), "revoke: HTTP {}", r.status);
    let r = admin
        .post(
            "/v1/enrollment-tokens",
            "application/json",
            br#"{"officer_id":"GAD-002"}"#,
        )
        .expect("enrollment token");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let uri: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    let uri = uri["uri"].as_str().expect("uri").to_string();
    assert_eq!(
        pramaan_core::enroll_uri::EnrollmentUri::parse(&uri)
            .expect("uri")
            .pin,
        staged.pin,
        "new QR codes carry the new pin"
    );
    let b = agent(dir_b.path());
    let again = b.enroll(&uri, &b_facts, None).expect("enrolls again");
    assert_ne!(again.device_id, b_enrolled.device_id);
    delivered(&b, "GAD-002");

    // A restart moves the staged files into tls/ and keeps the old ones aside.
    drop(b);
    let mut env = env;
    env.restart();
    assert_eq!(env.server().pin, staged.pin);
    assert!(!paths.tls_next_dir().exists());
    let retired: Vec<_> = std::fs::read_dir(paths.tls_retired_dir())
        .expect("retired")
        .collect();
    assert_eq!(retired.len(), 1);
    delivered(&a, "GAD-001");
}

#[test]
fn a_phone_that_never_learnt_the_new_key_cannot_enroll_elsewhere_over_its_enrollment() {
    // The exception to "an enrolled phone refuses a second enrollment" is narrow: only a
    // pin mismatch with the same server.
    let env = start();
    env.seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = agent(dir.path());
    a.enroll(&env.enrollment_uri("GAD-001"), &gad_facts(), None)
        .expect("enrolls");
    let e = a
        .enroll(&env.enrollment_uri("GAD-001"), &gad_facts(), None)
        .expect_err("already enrolled");
    assert!(matches!(e, AgentError::AlreadyEnrolled(_)), "{e:?}");
}
