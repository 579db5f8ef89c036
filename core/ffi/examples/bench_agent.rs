//! Agent benchmark (design section 10): the client-side work of one check-in, from device
//! facts to a signed token (claims, local rule evaluation, CBOR, COSE ES256 signature),
//! against a raw P-256 signature measured in the same run; the token size; a full offline
//! check-in including the durable state and outbox writes (fsync); and the size of the
//! release library if it has been built.
//!
//! `cargo run --release -p pramaan-ffi --example bench_agent [-- --seconds S]`
//! Targets: under 1 ms per check-in, token under 1 KiB, library under 3 MiB.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use pramaan_core::agent::{Agent, Facts, State};
use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{Assurance, Attestation, Platform};
use pramaan_core::cose;
use pramaan_core::keys::{Signer, SoftwareSigner, sign_raw};
use pramaan_core::policy::Policy;
use pramaan_testkit::{POLICY_GAD, app_of, gad_facts, whatsapp};
use uuid::Uuid;

fn per_op(seconds: f64, mut f: impl FnMut()) -> (Duration, u64) {
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..20 {
            f();
        }
        n += 20;
    }
    (start.elapsed() / u32::try_from(n).unwrap_or(u32::MAX), n)
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = Arc::new(SoftwareSigner::generate().expect("key"));
    let state = State {
        version: pramaan_core::agent::state::STATE_VERSION,
        device_id: Uuid::new_v4(),
        officer_id: "GAD-001".into(),
        department: "GAD".into(),
        server: "https://127.0.0.1:1".into(),
        pin: pramaan_core::transport::b64url(&[0; 32]),
        server_key: None,
        public_key: hex::encode(signer.public_key().expect("pk").as_sec1()),
        platform: Platform::Android,
        model: "Pixel 8".into(),
        assurance: Assurance::Hardware,
        evidence: Default::default(),
        policy: Policy::load(POLICY_GAD, &Catalog::builtin()).expect("policy"),
        next_nonce: None,
        nonce_received_at: 0,
        anchor: None,
        last_seq: 0,
        last_result: None,
        last_local: None,
        dropped: 0,
        reattest_requested: false,
        retry_at: 0,
        revoked: None,
        pin_change: pramaan_core::agent::pins::PinChange::default(),
    };
    state.save(dir.path()).expect("save");
    let facts = Facts {
        apps: vec![whatsapp(), app_of("Telegram", "11.2.0")],
        ..gad_facts()
    };

    let mut seq = 0u64;
    let mut token_len = 0;
    let (check_in, n1) = per_op(seconds, || {
        seq += 1;
        let claims = Attestation {
            protocol: pramaan_core::claims::Protocol::CURRENT,
            device_id: state.device_id,
            nonce: Some(vec![7; 32]),
            anchor: None,
            iat: 1_790_000_000,
            seq,
            officer: state.officer_id.clone(),
            apps: facts.apps.clone(),
            groups: facts.groups.clone(),
            email: facts.emails.clone(),
            os: facts.os(),
            lock: facts.screen_lock,
            evidence: None,
        };
        let (_verdict, _failures) = Agent::evaluate_locally(&state, &claims);
        let token = cose::sign_es256(
            signer.as_ref(),
            state.device_id.as_bytes(),
            claims.to_cbor(),
        )
        .expect("sign");
        token_len = token.len();
    });
    let msg = [0x5au8; 300];
    let (raw, n2) = per_op(seconds, || {
        sign_raw(signer.as_ref(), &msg).expect("sign");
    });

    // Full offline check-in: state file and outbox entry written and fsynced.
    let agent = Agent::open_with(
        dir.path(),
        signer.clone(),
        pramaan_core::transport::Options {
            attempts: 1,
            connect_timeout: Duration::from_millis(100),
            ..Default::default()
        },
    )
    .expect("agent");
    let start = Instant::now();
    let mut n3 = 0u32;
    while start.elapsed().as_secs_f64() < seconds.min(1.0) || n3 < 5 {
        agent.check_in(&facts).expect("check in");
        n3 += 1;
    }
    let durable = start.elapsed() / n3;

    println!("check-in client work (facts -> signed token): {check_in:?}/op over {n1} ops");
    println!("raw P-256 sign baseline (ring):               {raw:?}/op over {n2} ops");
    println!(
        "overhead over the signature:                  {:.1}x",
        check_in.as_secs_f64() / raw.as_secs_f64().max(1e-12)
    );
    println!("token size:                                   {token_len} bytes");
    println!(
        "offline check-in incl. fsynced state+outbox:  {durable:?}/op over {n3} ops (server unreachable)"
    );
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/release/libpramaan_ffi.so");
    match std::fs::metadata(&lib) {
        Ok(m) => println!(
            "release cdylib (stripped):                    {:.2} MiB ({} bytes)",
            m.len() as f64 / (1024.0 * 1024.0),
            m.len()
        ),
        Err(_) => {
            println!("release cdylib: not built (cargo build --release -p pramaan-ffi --lib)")
        }
    }
}
