//! The enrollment preview (`POST /v1/enroll/preview`, design section 5 item 1): whom a
//! token enrolls, with the refusals an enrollment would meet, over real TLS on loopback;
//! each refusal and each answer checked to consume and log nothing, and the agent's side
//! (core `Agent::preview_enrollment`) against the same server.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use pramaan_core::agent::preview::PREVIEW_PATH;
use pramaan_core::agent::{Agent, AgentError, Facts};
use pramaan_core::claims::{self, EnrollPreview, EnrollPreviewRequest};
use pramaan_core::keys::SoftwareSigner;
use pramaan_core::transport::Response;
use pramaan_testkit::*;

fn post_preview(env: &Env, body: &[u8]) -> Response {
    env.device_client()
        .post(PREVIEW_PATH, "application/cbor", body)
        .expect("preview")
}

fn preview_of(env: &Env, token: &str) -> Response {
    post_preview(
        env,
        &claims::encode(&EnrollPreviewRequest {
            token: token.to_string(),
        }),
    )
}

/// Runs `f` and checks that the store's counts (devices, tokens used, log entries, ...)
/// are what they were.
fn unchanged(env: &Env, f: impl FnOnce()) {
    let before = env.counts();
    f();
    assert_eq!(env.counts(), before, "a preview changed the store");
}

#[test]
fn preview_names_the_officer_then_the_same_token_enrolls() {
    let env = start();
    env.seed();
    let token = env.enrollment_token("GAD-001");
    let t0 = now();
    unchanged(&env, || {
        for _ in 0..2 {
            let r = preview_of(&env, &token);
            assert_eq!(r.status, 200, "{:?}", error_of(&r));
            let p: EnrollPreview = claims::decode(&r.body).expect("CBOR preview");
            assert_eq!(
                p,
                EnrollPreview {
                    officer_id: "GAD-001".into(),
                    officer_name: "A. Shah".into(),
                    department: "GAD".into(),
                    department_name: "General Administration Department".into(),
                    expires_at: p.expires_at,
                }
            );
            assert!(p.expires_at > t0, "{} <= {t0}", p.expires_at);
        }
        // Surrounding spaces are ignored, as the enrollment's header ignores them.
        assert_eq!(preview_of(&env, &format!(" {token} ")).status, 200);
    });
    // Nothing was consumed: the same token enrolls.
    let signer = SoftwareSigner::generate().unwrap();
    let r = env.post_enroll(&token, &enroll_request(&signer, &token, &env.challenge()));
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    // And is then used, for the preview too.
    unchanged(&env, || {
        assert_rejected(&preview_of(&env, &token), 410, "token_used");
    });
}

#[test]
fn refused_tokens_are_refused_with_enrollments_codes_and_change_nothing() {
    let env = start();
    env.seed();
    let cancelled = env.enrollment_token("GAD-001");
    assert_eq!(env.cancel_enrollment_token(&cancelled).status, 200);
    unchanged(&env, || {
        assert_rejected(&preview_of(&env, &cancelled), 410, "token_cancelled");
        assert_rejected(&preview_of(&env, "bm90LWEtdG9rZW4"), 401, "unknown_token");
        assert_rejected(&preview_of(&env, "   "), 401, "unknown_token");
        // Not CBOR, the wrong CBOR, an empty body.
        assert_rejected(&post_preview(&env, b"{\"token\":\"x\"}"), 400, "malformed");
        assert_rejected(
            &post_preview(&env, &claims::encode(&42u32)),
            400,
            "malformed",
        );
        assert_rejected(&post_preview(&env, b""), 400, "malformed");
        // A body far over the limit is refused unread.
        let huge = claims::encode(&EnrollPreviewRequest {
            token: "A".repeat(8 * 1024),
        });
        assert_rejected(&post_preview(&env, &huge), 413, "too_large");
    });
}

#[test]
fn an_expired_token_is_410() {
    let env = start_with(|c| c.enrollment_token_ttl_secs = 0);
    env.seed();
    let token = env.enrollment_token("GAD-001");
    unchanged(&env, || {
        assert_rejected(&preview_of(&env, &token), 410, "token_expired");
    });
}

#[test]
fn previews_are_charged_to_the_client_address() {
    let env = start_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 3;
    });
    let statuses: Vec<u16> = (0..6)
        .map(|_| preview_of(&env, "bm90LWEtdG9rZW4").status)
        .collect();
    assert_eq!(&statuses[..3], &[401, 401, 401], "{statuses:?}");
    assert_rejected(&preview_of(&env, "bm90LWEtdG9rZW4"), 429, "rate_limited");
}

fn facts() -> Facts {
    Facts::from_toml(
        "platform = \"android\"\nmodel = \"Pixel 8\"\nscreen_lock = true\nemails = [\"a.shah@gujarat.gov.in\"]\n",
    )
    .expect("facts")
}

#[test]
fn the_agent_previews_without_writing_then_enrolls() {
    let env = start();
    env.seed();
    let uri = env.enrollment_uri("GAD-001");
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("state");
    let signer = Arc::new(SoftwareSigner::generate().expect("key"));
    let agent = Agent::open_with(&dir, signer, options()).expect("open");
    // The universal-link form of the same link previews the same.
    let query = uri
        .strip_prefix("pramaan://enroll?")
        .expect("custom scheme");
    let universal = format!("https://links.example.org/app/enroll?{query}");
    unchanged(&env, || {
        for link in [&uri, &universal] {
            let p = agent.preview_enrollment(link).expect("preview");
            assert_eq!(p.preview.officer_id, "GAD-001");
            assert_eq!(p.preview.officer_name, "A. Shah");
            assert_eq!(p.preview.department, "GAD");
            assert_eq!(
                p.preview.department_name,
                "General Administration Department"
            );
            assert_eq!(p.server, env.url());
        }
    });
    assert!(!dir.exists(), "a preview writes nothing on the device");
    let enrolled = agent
        .enroll(&universal, &facts(), None)
        .expect("the previewed token enrolls");
    assert_eq!(enrolled.officer_id, "GAD-001");
    // Enrolled now: the agent says so before asking the server anything.
    let other = env.enrollment_uri("GAD-002");
    assert!(matches!(
        agent.preview_enrollment(&other),
        Err(AgentError::AlreadyEnrolled(id)) if id == enrolled.device_id
    ));
    // A used token is refused with the server's code.
    let fresh_dir = parent.path().join("other");
    let again = Agent::open_with(
        &fresh_dir,
        Arc::new(SoftwareSigner::generate().expect("key")),
        options(),
    )
    .expect("open");
    match again.preview_enrollment(&uri) {
        Err(AgentError::Rejected { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (410, "token_used"));
        }
        other => panic!("a used token must be refused: {other:?}"),
    }
    assert!(!fresh_dir.exists());
}
