//! No panic and no state change on any network input (design section 10): random and
//! mutated bodies to every device endpoint over TLS, each answered 4xx with an error body,
//! and the server still serving afterwards.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_testkit as common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};

#[test]
fn random_and_mutated_device_messages_are_refused_without_state_change() {
    let env = start();
    env.seed();
    let dev = env.enroll("GAD-001");
    let genuine = dev.attestation(Some(dev.next_nonce.clone()), 1, now());
    let client = env.device_client();
    let before = env.counts();
    let mut runner = TestRunner::new(PtConfig {
        cases: 96,
        ..PtConfig::default()
    });
    let strategy = (
        proptest::collection::vec(any::<u8>(), 0..2048),
        0usize..4096,
        any::<u8>(),
        any::<bool>(),
    );
    runner
        .run(&strategy, |(random, pos, byte, mutate)| {
            let body = if mutate {
                let mut b = genuine.clone();
                let i = pos % b.len();
                b[i] ^= byte.max(1);
                b
            } else {
                random
            };
            for path in ["/v1/attest", "/v1/enroll"] {
                let r = client
                    .post(path, pramaan_core::cose::DEVICE_CONTENT_TYPE, &body)
                    .expect("the server answers");
                prop_assert!((400..500).contains(&r.status), "{path}: {}", r.status);
                prop_assert!(error_of(&r).is_some());
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(env.counts(), before);
    // Still serving, and the genuine message is still accepted.
    let r = env.post_device("/v1/attest", &genuine);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
}
