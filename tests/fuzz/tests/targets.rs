//! The fuzz targets under `cargo test`: every seed reaches past the first check, every
//! saved crash (`tests/fuzz/regressions/<target>/`) stays fixed, and a short mutation
//! search from the seeds finds no panic. The coverage-guided runs are `tests/fuzz/run`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use pramaan_fuzz::{Outcome, TARGETS, find, join_chain, raw_to_der, regressions_dir, split_chain};
use proptest::prelude::*;

fn all_seeds() -> &'static BTreeMap<&'static str, Vec<Vec<u8>>> {
    static SEEDS: OnceLock<BTreeMap<&'static str, Vec<Vec<u8>>>> = OnceLock::new();
    SEEDS.get_or_init(|| TARGETS.iter().map(|t| (t.name, (t.seeds)())).collect())
}

#[test]
fn every_target_has_seeds_and_one_at_least_is_accepted() {
    for t in TARGETS {
        let seeds = &all_seeds()[t.name];
        assert!(!seeds.is_empty(), "{}: no seeds", t.name);
        let accepted = seeds
            .iter()
            .filter(|s| (t.run)(s) == Outcome::Accepted)
            .count();
        assert!(
            accepted > 0,
            "{}: none of {} seeds is accepted",
            t.name,
            seeds.len()
        );
    }
}

#[test]
fn the_real_evidence_seeds_verify_where_the_fixtures_say_so() {
    // Android: the akita and blueline chains answer the challenge "challenge"; the chains
    // to the software root (marlin) and the ML-DSA ones (tokay) are refused.
    let android = find("android_chain").unwrap();
    let outcomes: Vec<Outcome> = all_seeds()["android_chain"]
        .iter()
        .map(|s| (android.run)(s))
        .collect();
    assert!(
        outcomes.iter().filter(|o| **o == Outcome::Accepted).count() >= 6,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&Outcome::Rejected), "{outcomes:?}");
    // Apple: the iOS 14.3 attestation and assertion verify with the target's parameters.
    for name in ["apple_attestation", "apple_assertion"] {
        let t = find(name).unwrap();
        assert!(
            all_seeds()[name]
                .iter()
                .any(|s| (t.run)(s) == Outcome::Accepted),
            "{name}"
        );
    }
    // The audit bundles verify against the fixture log key; one changed byte in the
    // signed checkpoint does not.
    let bundle = find("bundle").unwrap();
    let seeds = &all_seeds()["bundle"];
    assert_eq!(seeds.len(), 3);
    for s in seeds {
        assert_eq!((bundle.run)(s), Outcome::Accepted);
    }
    let mut forged = seeds[0].clone();
    let at = forged
        .windows(pramaan_fuzz::LOG_ORIGIN.len())
        .position(|w| w == pramaan_fuzz::LOG_ORIGIN.as_bytes())
        .unwrap();
    forged[at] ^= 1;
    assert_eq!((bundle.run)(&forged), Outcome::Rejected);
}

#[test]
fn saved_regressions_do_not_panic() {
    let root = regressions_dir("");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let t = find(&name).unwrap_or_else(|| panic!("{}: no such target", dir.display()));
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let _ = (t.run)(&std::fs::read(&f).unwrap());
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no regression inputs under {}",
        root.display()
    );
}

#[test]
fn der_signatures_round_trip_and_the_lost_byte_case_is_refused() {
    let t = find("der_signature").unwrap();
    let mut raw = [0u8; 64];
    raw[0] = 0x80;
    raw[63] = 1;
    let der = raw_to_der(&raw);
    assert_eq!(der[3], 33, "a top bit takes a zero byte in front");
    assert_eq!((t.run)(&der), Outcome::Accepted);
    // The 33-byte integer whose first byte is not zero: it does not fit 32 bytes and
    // was once cut to them (found by this target).
    let mut lossy = der.clone();
    lossy[4] = 0x01;
    assert_eq!((t.run)(&lossy), Outcome::Rejected);
}

#[test]
fn chain_framing_round_trips() {
    let chain = vec![vec![1, 2, 3], Vec::new(), vec![9; 300]];
    assert_eq!(split_chain(&join_chain(77, &chain)), (77, chain));
    assert_eq!(split_chain(&[1, 2]), (0, Vec::new()));
}

#[test]
fn fixed_keys_load() {
    let a = pramaan_fuzz::fixed_server_key(7);
    let b = pramaan_fuzz::fixed_server_key(7);
    assert_eq!(a.public_key(), b.public_key());
    assert_ne!(
        a.public_key(),
        pramaan_fuzz::fixed_server_key(9).public_key()
    );
}

/// One mutation of a seed (the operations libFuzzer's default mutators also make).
#[derive(Debug, Clone)]
enum Op {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(p, b)| Op::Flip(p, b)),
        (
            any::<usize>(),
            prop::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff, b'\n', b',', b'"'])
        )
            .prop_map(|(p, b)| Op::Set(p, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, v)| Op::Insert(p, v)),
        (any::<usize>(), 1..64usize).prop_map(|(p, n)| Op::Delete(p, n)),
        any::<usize>().prop_map(Op::Truncate),
        (any::<usize>(), 1..64usize).prop_map(|(p, n)| Op::Duplicate(p, n)),
    ]
}

fn mutate(seed: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for op in ops {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
        match op {
            Op::Flip(p, b) if !v.is_empty() => {
                let i = at(*p, v.len());
                v[i] ^= b;
            }
            Op::Set(p, b) if !v.is_empty() => {
                let i = at(*p, v.len());
                v[i] = *b;
            }
            Op::Insert(p, bytes) => {
                let i = at(*p, v.len() + 1);
                v.splice(i..i, bytes.iter().copied());
            }
            Op::Delete(p, n) if !v.is_empty() => {
                let i = at(*p, v.len());
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Op::Truncate(p) => {
                let i = at(*p, v.len() + 1);
                v.truncate(i);
            }
            Op::Duplicate(p, n) if !v.is_empty() => {
                let i = at(*p, v.len());
                let end = (i + n).min(v.len());
                let chunk = v[i..end].to_vec();
                v.splice(i..i, chunk);
            }
            _ => {}
        }
    }
    v
}

/// Cases per target: 256 by default (fast under `cargo test`); PRAMAAN_FUZZ_CASES raises it
/// (the search without libFuzzer, e.g. 100000 in a release build).
fn cases() -> u32 {
    std::env::var("PRAMAAN_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

#[test]
fn mutated_seeds_never_panic() {
    for t in TARGETS {
        let seeds = &all_seeds()[t.name];
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let strategy = (0..seeds.len(), prop::collection::vec(op(), 1..6));
        let result = runner.run(&strategy, |(i, ops)| {
            let input = mutate(&seeds[i], &ops);
            let _ = (t.run)(&input);
            Ok(())
        });
        if let Err(e) = result {
            panic!("{}: {e}", t.name);
        }
    }
}
