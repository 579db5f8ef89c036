//! Fair limits and stateless challenges over real TLS on loopback (design sections 5
//! and 8): one address's flood does not lock out other devices behind it, a device is
//! limited on its own, challenges write nothing, nonces say precisely why they are
//! refused, and `X-Forwarded-For` is believed only from a trusted proxy.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use pramaan_core::cose;
use pramaan_core::keys::SoftwareSigner;
use pramaan_server::nonce::NonceKey;
use pramaan_server::server::Paths;
use uuid::Uuid;

/// Sends one attestation of `device` answering its next nonce; the raw answer (the
/// device moves on only when it was accepted).
fn attest(env: &Env, device: &mut Device) -> pramaan_core::transport::Response {
    let body = device.attestation(Some(device.next_nonce.clone()), device.seq + 1, now());
    let r = env.post_device("/v1/attest", &body);
    if r.status == 200 {
        let result: pramaan_core::claims::AttestResult = env.verify_answer(&r.body);
        device.seq += 1;
        device.anchor = anchor_of(&result.next_nonce);
        device.next_nonce = result.next_nonce;
    }
    r
}

/// An attestation under `device`'s kid signed by another key.
fn forged_under(device: &Device) -> Vec<u8> {
    let other = SoftwareSigner::generate().unwrap();
    let claims = claims_for(device.id, &device.officer, None, device.seq + 1, now());
    cose::sign_es256(&other, device.id.as_bytes(), claims.to_cbor()).unwrap()
}

/// Rows of the nonce table (used nonces: issued ones are not stored).
fn nonce_rows(env: &Env) -> i64 {
    let db = Paths::new(env.data_dir()).db();
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    conn.query_row("SELECT COUNT(*) FROM nonces", [], |r| r.get(0))
        .expect("count")
}

/// A flood of challenges and of garbage attestations from one address is refused (429)
/// once that address's allowance is spent, while enrolled devices behind the same address
/// keep attesting (also right after a restart): attestations are charged to their device,
/// and failures to the address.
#[test]
fn a_flood_from_one_address_does_not_stop_other_devices_behind_it() {
    let mut env = start_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 6;
        c.device_rate_per_min = 600;
        c.device_rate_burst = 100;
    });
    env.seed();
    let mut a = env.enroll("GAD-001");
    let mut b = env.enroll("GAD-002");
    let client = env.device_client();
    let challenges: Vec<_> = (0..40)
        .map(|_| client.get("/v1/challenge").unwrap())
        .collect();
    let limited = challenges
        .iter()
        .find(|r| r.status == 429)
        .expect("the challenge flood is limited");
    assert_rejected(limited, 429, "rate_limited");
    assert!(limited.retry_after.is_some_and(|s| s >= 1));
    // Garbage of every kind: not COSE, an unknown kid, a bad signature under a real kid.
    let stranger = Uuid::new_v4();
    let unknown = cose::sign_es256(
        &a.signer,
        stranger.as_bytes(),
        claims_for(stranger, "GAD-001", None, 1, now()).to_cbor(),
    )
    .unwrap();
    let mut statuses = Vec::new();
    for i in 0..40 {
        let body = match i % 3 {
            0 => b"garbage".to_vec(),
            1 => unknown.clone(),
            _ => forged_under(&b),
        };
        statuses.push(env.post_device("/v1/attest", &body).status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [400, 401, 429].contains(s)),
        "{statuses:?}"
    );
    // Both devices behind the flooded address still attest, again and again.
    for _ in 0..3 {
        for dev in [&mut a, &mut b] {
            let r = attest(&env, dev);
            assert_eq!(r.status, 200, "{:?}", error_of(&r));
        }
    }
    // Failures from the flooded address are still told to wait (the allowance refills
    // at one a second: a few tries reach the refusal whatever the machine's load).
    let refused = (0..8)
        .map(|_| env.post_device("/v1/attest", &forged_under(&a)))
        .find(|r| r.status == 429)
        .expect("failures from the flooded address are refused");
    assert_rejected(&refused, 429, "rate_limited");
    assert!(refused.retry_after.is_some_and(|s| s >= 1));
    // And a device there still attests after a restart (no memory of who verified).
    env.restart();
    let r = env.post_device("/v1/attest", &unknown);
    assert_rejected(&r, 401, "unknown_device");
    for _ in 0..40 {
        env.post_device("/v1/attest", b"garbage");
    }
    let r = attest(&env, &mut a);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}

/// Each device has its own allowance: past it, 429 with Retry-After and nothing stored;
/// other devices at the same address are unaffected, and forgeries under a device's kid
/// do not spend its allowance.
#[test]
fn a_device_beyond_its_own_limit_gets_429_and_others_do_not() {
    let env = start_with(|c| {
        c.device_rate_per_min = 1;
        c.device_rate_burst = 2;
    });
    env.seed();
    let mut a = env.enroll("GAD-001");
    let mut b = env.enroll("GAD-002");
    for _ in 0..2 {
        let r = attest(&env, &mut a);
        assert_eq!(r.status, 200, "{:?}", error_of(&r));
    }
    let before = env.counts();
    let r = attest(&env, &mut a);
    assert_rejected(&r, 429, "rate_limited");
    let retry = r.retry_after.expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(error_of(&r).unwrap().message.contains("this device"));
    assert_eq!(
        env.counts(),
        before,
        "a refused attestation changes nothing"
    );
    // Somebody sends forgeries under b's kid: refused, and b's allowance is intact.
    for _ in 0..5 {
        let r = env.post_device("/v1/attest", &forged_under(&b));
        assert_rejected(&r, 401, "bad_signature");
    }
    for _ in 0..2 {
        let r = attest(&env, &mut b);
        assert_eq!(r.status, 200, "{:?}", error_of(&r));
    }
    let r = attest(&env, &mut b);
    assert_rejected(&r, 429, "rate_limited");
}

/// `GET /v1/challenge` writes nothing: a thousand challenges leave the nonce table as it
/// was; only a nonce's use is recorded.
#[test]
fn challenges_make_no_database_write() {
    let env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    let rows = nonce_rows(&env);
    assert_eq!(rows, 1, "the enrollment's challenge was used");
    let client = env.device_client();
    let mut nonces = std::collections::HashSet::new();
    for _ in 0..1_000 {
        let r = client.get("/v1/challenge").unwrap();
        assert_eq!(r.status, 200);
        let c: pramaan_core::claims::Challenge =
            pramaan_core::claims::decode(&r.body).expect("challenge");
        assert_eq!(c.nonce.len(), pramaan_core::claims::NONCE_LEN);
        nonces.insert(c.nonce);
    }
    assert_eq!(nonces.len(), 1_000, "every challenge is new");
    assert_eq!(nonce_rows(&env), rows);
    // Using one records it (one row), and an accepted attestation's next nonce is free.
    let r = attest(&env, &mut dev);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    assert_eq!(nonce_rows(&env), rows + 1);
}

/// Sends an attestation of `dev` answering `nonce`: refused with 409 `code`, nothing
/// changed.
fn refused_nonce(env: &Env, dev: &Device, nonce: Vec<u8>, code: &str) {
    let body = dev.attestation(Some(nonce), dev.seq + 1, now());
    let before = env.counts();
    let r = env.post_device("/v1/attest", &body);
    assert_rejected(&r, 409, code);
    assert_eq!(env.counts(), before);
}

/// Forged or altered nonces are unknown, expired ones expired, used ones reused; the
/// nonce key survives a restart (a nonce issued before still works after).
#[test]
fn nonces_are_refused_precisely_and_survive_a_restart() {
    let mut env = start();
    env.seed();
    let mut dev = env.enroll("GAD-001");
    let key = NonceKey::load_or_create(&Paths::new(env.data_dir()).nonce_key()).expect("key");
    // Altered: any changed byte (here a later expiry) breaks the MAC.
    let mut altered = dev.next_nonce.clone();
    altered[7] ^= 0x10;
    refused_nonce(&env, &dev, altered, "nonce_unknown");
    // Another server's nonce (another key), and one never issued.
    let other = NonceKey::generate().expect("key");
    refused_nonce(
        &env,
        &dev,
        other.issue(600, now()).unwrap().0,
        "nonce_unknown",
    );
    refused_nonce(&env, &dev, vec![7; 32], "nonce_unknown");
    // Expired: issued with this server's key an hour ago for a minute.
    refused_nonce(
        &env,
        &dev,
        key.issue(60, now() - 3600).unwrap().0,
        "nonce_expired",
    );
    // Reused.
    let used = dev.next_nonce.clone();
    let r = attest(&env, &mut dev);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    refused_nonce(&env, &dev, used, "nonce_reused");
    // A challenge issued before a restart is good after it.
    let pending = env.challenge();
    env.restart();
    let r = env.post_device(
        "/v1/attest",
        &dev.attestation(Some(pending), dev.seq + 1, now()),
    );
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    let result: pramaan_core::claims::AttestResult = env.verify_answer(&r.body);
    dev.seq += 1;
    // A data directory without a nonce key (an older one) gets a new key on start; the
    // nonces of the old key are unknown from then on.
    env.stop();
    let path = Paths::new(env.data_dir()).nonce_key();
    std::fs::remove_file(&path).expect("remove nonce.key");
    env.restart();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("created")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    refused_nonce(&env, &dev, result.next_nonce, "nonce_unknown");
    let r = env.post_device(
        "/v1/attest",
        &dev.attestation(Some(env.challenge()), dev.seq + 1, now()),
    );
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}

/// `X-Forwarded-For` names the client only when the peer is a trusted proxy: then two
/// clients behind the proxy have their own allowances (IPv6 by /64); from an untrusted
/// peer the header is ignored, so spoofing it gains nothing.
#[test]
fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let limited = |c: &mut pramaan_server::config::Config| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 2;
    };
    let behind = |env: &Env, xff: &str| {
        env.device_client()
            .with_header("X-Forwarded-For", xff)
            .expect("header")
    };
    let statuses = |client: &pramaan_core::transport::HttpsClient, n: usize| -> Vec<u16> {
        (0..n)
            .map(|_| client.get("/v1/challenge").unwrap().status)
            .collect()
    };
    let proxied = start_with(|c| {
        limited(c);
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
    });
    let first = behind(&proxied, "203.0.113.1, 198.51.100.1");
    assert!(statuses(&first, 5).contains(&429));
    // Another client behind the proxy, and the first one's spoofed left part changed.
    assert_eq!(statuses(&behind(&proxied, "198.51.100.2"), 1), [200]);
    assert_eq!(
        statuses(&behind(&proxied, "192.0.2.99, 198.51.100.1"), 1),
        [429]
    );
    // IPv6 clients count by /64.
    assert!(statuses(&behind(&proxied, "2001:db8:1:2::1"), 5).contains(&429));
    assert_eq!(statuses(&behind(&proxied, "2001:db8:1:2::99"), 1), [429]);
    assert_eq!(statuses(&behind(&proxied, "2001:db8:1:3::1"), 1), [200]);

    // No trusted proxy: every header is ignored, the peer's address is charged.
    let direct = start_with(limited);
    assert!(statuses(&behind(&direct, "198.51.100.1"), 5).contains(&429));
    assert_eq!(statuses(&behind(&direct, "198.51.100.2"), 1), [429]);
    assert_eq!(statuses(&direct.device_client(), 1), [429]);
}

/// A `trusted_proxies` entry that is not an address or CIDR stops the server from
/// starting, naming the entry.
#[test]
fn a_bad_trusted_proxy_is_refused_at_start() {
    let mut env = start();
    env.stop();
    let config = pramaan_server::config::Config {
        trusted_proxies: vec!["10.0.0.0/8".into(), "proxy.local".into()],
        ..test_config()
    };
    let e = pramaan_server::server::start_with_config(env.data_dir(), config).expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("trusted_proxies") && text.contains("\"proxy.local\""),
        "{text}"
    );
}
