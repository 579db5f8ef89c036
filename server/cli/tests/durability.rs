//! Acknowledged means durable (design section 10): every attestation the `pramaan serve`
//! process answered 200 is still there after the process is killed with SIGKILL.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pramaan_core::transport::{HttpsClient, Trust};
use pramaan_server::server;
use pramaan_server::store::transaction;

#[test]
fn answered_attestations_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let init = server::admin_init(dir.path(), "localhost").unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(["serve", "--data"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("PRAMAAN_RATE_LIMIT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pramaan serve");
    let url = format!("https://127.0.0.1:{port}");
    let probe = HttpsClient::new(&url, Trust::Pin(init.pin), options()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while probe.get("/healthz").map(|r| r.status).ok() != Some(200) {
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Drive the child through the same fixtures, pointed at its URL.
    let running = ChildServer {
        url: url.clone(),
        pin: init.pin,
    };
    let admin = running.client().with_bearer(init.admin_token.clone());
    seed(&admin);
    let r = admin
        .post(
            "/v1/enrollment-tokens",
            "application/json",
            br#"{"officer_id":"GAD-001"}"#,
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let token = pramaan_core::enroll_uri::EnrollmentUri::parse(v["uri"].as_str().unwrap())
        .unwrap()
        .token;
    let client = running.client();
    let c: pramaan_core::claims::Challenge =
        pramaan_core::claims::decode(&client.get("/v1/challenge").unwrap().body).unwrap();
    let signer = pramaan_core::SoftwareSigner::generate().unwrap();
    let r = running
        .client()
        .with_bearer(token.as_str())
        .post(
            "/v1/enroll",
            pramaan_core::cose::DEVICE_CONTENT_TYPE,
            &enroll_request(&signer, &token, &c.nonce),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let receipt: pramaan_core::claims::Receipt = pramaan_core::claims::decode(
        pramaan_core::Sign1::parse(&r.body)
            .unwrap()
            .unverified_payload(),
    )
    .unwrap();
    let mut dev = Device {
        signer,
        id: receipt.device_id,
        officer: "GAD-001".into(),
        anchor: pramaan_testkit::anchor_of(&receipt.next_nonce),
        next_nonce: receipt.next_nonce,
        seq: 0,
    };
    let mut answered = 0u64;
    for _ in 0..20 {
        dev.seq += 1;
        let body = dev.attestation(Some(dev.next_nonce.clone()), dev.seq, now());
        let r = client
            .post("/v1/attest", pramaan_core::cose::DEVICE_CONTENT_TYPE, &body)
            .unwrap();
        assert_eq!(r.status, 200);
        let res: pramaan_core::claims::AttestResult = pramaan_core::claims::decode(
            pramaan_core::Sign1::parse(&r.body)
                .unwrap()
                .unverified_payload(),
        )
        .unwrap();
        dev.next_nonce = res.next_nonce;
        answered += 1;
    }
    // SIGKILL right after the last answer: no shutdown, no flush.
    child.kill().unwrap();
    child.wait().unwrap();

    let mut config = test_config();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let restarted = server::start_with_config(dir.path(), config).unwrap();
    let store = restarted.store();
    let row = transaction(store.as_ref(), |tx| tx.device(&dev.id))
        .unwrap()
        .unwrap();
    assert_eq!(row.last_seq, Some(answered));
    let counts = transaction(store.as_ref(), |tx| tx.counts()).unwrap();
    assert_eq!(counts.attestations, answered);
    // The admin token, policies (2), the registry import, the enrollment token, the
    // enrollment and the attestations are all in the log.
    assert_eq!(counts.log_entries, 1 + 2 + 1 + 1 + 1 + answered);
}

struct ChildServer {
    url: String,
    pin: [u8; 32],
}

impl ChildServer {
    fn client(&self) -> HttpsClient {
        HttpsClient::new(&self.url, Trust::Pin(self.pin), options()).unwrap()
    }
}
