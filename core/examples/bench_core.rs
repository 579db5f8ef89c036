//! Agent-side cost of one attestation (design section 10), against raw ring in the same run.
//!
//! `cargo run --release -p pramaan-core --example bench_core [-- --json] [--seconds S]`
//!
//! Measures, per operation: build+sign (facts -> claims -> CBOR -> COSE_Sign1 ES256 with
//! the software signer), verify (parse, ES256 check, claims decode: what the server does
//! per attestation), and ring's raw P-256 sign and verify of a message as long as the
//! COSE Sig_structure, so the protocol's overhead shows as a ratio independent of the
//! machine. Also the encoded size. Targets: sign < 0.2 ms, verify < 0.15 ms, < 1 KiB.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pramaan_core::claims::{Attestation, GroupFact};
use pramaan_core::cose::{self, Sign1};
use pramaan_core::keys::{Signer, SoftwareSigner};
use pramaan_testkit::{GAD_GROUP, app_of, gad_claims, whatsapp, whatsapp_group};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use uuid::Uuid;

const SIGN_TARGET_MS: f64 = 0.2;
const VERIFY_TARGET_MS: f64 = 0.15;
const SIZE_TARGET: usize = 1024;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("usage: bench_core [--json] [--seconds S]  ({0})")]
    Usage(String),
    #[error("{0}")]
    Core(String),
}

/// One measured operation.
struct Figure {
    name: &'static str,
    iterations: u64,
    /// Mean time per operation, microseconds.
    mean_us: f64,
    /// Median of the per-batch means, microseconds (robust to a noisy neighbour).
    median_us: f64,
}

impl Figure {
    fn per_sec(&self) -> f64 {
        1e6 / self.mean_us
    }
}

/// Runs `op` in batches for about `budget` after a warm-up; fails if `op` fails once.
fn measure(
    name: &'static str,
    budget: Duration,
    mut op: impl FnMut() -> Result<(), BenchError>,
) -> Result<Figure, BenchError> {
    const BATCH: u64 = 64;
    for _ in 0..BATCH * 4 {
        op()?;
    }
    let mut batches = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || batches.len() < 5 {
        let t = Instant::now();
        for _ in 0..BATCH {
            op()?;
        }
        batches.push(t.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    let total = start.elapsed().as_secs_f64() * 1e6;
    let iterations = BATCH * batches.len() as u64;
    batches.sort_by(|a, b| a.total_cmp(b));
    Ok(Figure {
        name,
        iterations,
        mean_us: total / iterations as f64,
        median_us: batches[batches.len() / 2],
    })
}

/// What a phone's platform layer reports: two apps, two groups, two emails.
fn facts(device_id: Uuid, seq: u64) -> Attestation {
    Attestation {
        nonce: Some(vec![0x42; 32]),
        iat: 1_790_000_000 + seq,
        seq,
        apps: vec![whatsapp(), app_of("Telegram", "11.2.0")],
        groups: vec![
            whatsapp_group(GAD_GROUP, "+919800000001"),
            GroupFact {
                platform: "Telegram".into(),
                group: "gad-alerts".into(),
                member: true,
                handle: "@ashah".into(),
            },
        ],
        email: vec!["a.shah@gujarat.gov.in".into(), "a.shah@nic.in".into()],
        ..gad_claims(device_id, "GAD-001")
    }
}

fn core_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Core(e.to_string())
}

struct Options {
    json: bool,
    budget: Duration,
}

fn options() -> Result<Options, BenchError> {
    let mut json = false;
    let mut seconds = 1.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--seconds" => {
                let v = args
                    .next()
                    .ok_or_else(|| BenchError::Usage("--seconds needs a value".into()))?;
                seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 3600.0)
                    .ok_or_else(|| BenchError::Usage(format!("bad --seconds {v:?}")))?;
            }
            other => return Err(BenchError::Usage(format!("unknown argument {other:?}"))),
        }
    }
    Ok(Options {
        json,
        budget: Duration::from_secs_f64(seconds),
    })
}

fn run() -> Result<(), BenchError> {
    let opts = options()?;
    if cfg!(debug_assertions) {
        eprintln!("bench_core: debug build; run with --release for meaningful figures");
    }
    let signer = SoftwareSigner::generate().map_err(core_err)?;
    let public = signer.public_key().map_err(core_err)?;
    let device_id = Uuid::new_v4();
    let kid = device_id.as_bytes().to_vec();

    // The artefact every figure is about.
    let claims_bytes = facts(device_id, 1).to_cbor();
    let token = cose::sign_es256(&signer, &kid, claims_bytes.clone()).map_err(core_err)?;
    let size = token.len();
    // The Sig_structure ring actually signs, for a like-for-like baseline.
    let parsed = <coset::CoseSign1 as coset::TaggedCborSerializable>::from_tagged_slice(&token)
        .map_err(core_err)?;
    let tbs_len = coset::sig_structure_data(
        coset::SignatureContext::CoseSign1,
        parsed.protected,
        None,
        b"",
        &claims_bytes,
    )
    .len();

    let mut seq = 0u64;
    let sign = measure("build+sign attestation", opts.budget, || {
        seq += 1;
        let a = facts(device_id, seq);
        let t = cose::sign_es256(&signer, &kid, a.to_cbor()).map_err(core_err)?;
        black_box(t);
        Ok(())
    })?;
    let verify = measure("verify attestation", opts.budget, || {
        let parsed = Sign1::parse(black_box(&token)).map_err(core_err)?;
        let payload = parsed.verify_es256(&public, Some(&kid)).map_err(core_err)?;
        let a = Attestation::from_cbor(payload).map_err(core_err)?;
        black_box(a);
        Ok(())
    })?;

    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| BenchError::Core("ring key generation failed".into()))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| BenchError::Core("ring key load failed".into()))?;
    let message = vec![0x5au8; tbs_len];
    let raw_sig = pair
        .sign(&rng, &message)
        .map_err(|_| BenchError::Core("ring sign failed".into()))?;
    let raw_pk = UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        pair.public_key().as_ref().to_vec(),
    );
    let raw_sign = measure("ring P-256 sign (baseline)", opts.budget, || {
        let s = pair
            .sign(&rng, black_box(&message))
            .map_err(|_| BenchError::Core("ring sign failed".into()))?;
        black_box(s);
        Ok(())
    })?;
    let raw_verify = measure("ring P-256 verify (baseline)", opts.budget, || {
        raw_pk
            .verify(black_box(&message), raw_sig.as_ref())
            .map_err(|_| BenchError::Core("ring verify failed".into()))
    })?;

    let sign_ratio = sign.mean_us / raw_sign.mean_us;
    let verify_ratio = verify.mean_us / raw_verify.mean_us;
    let sign_ok = sign.mean_us / 1000.0 < SIGN_TARGET_MS;
    let verify_ok = verify.mean_us / 1000.0 < VERIFY_TARGET_MS;
    let size_ok = size < SIZE_TARGET;
    let figures = [&sign, &verify, &raw_sign, &raw_verify];

    if opts.json {
        let ops: Vec<serde_json::Value> = figures
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "iterations": f.iterations,
                    "mean_us": f.mean_us,
                    "median_us": f.median_us,
                    "per_sec": f.per_sec(),
                })
            })
            .collect();
        let report = serde_json::json!({
            "operations": ops,
            "sign_vs_raw": sign_ratio,
            "verify_vs_raw": verify_ratio,
            "token_bytes": size,
            "sig_structure_bytes": tbs_len,
            "claims_bytes": claims_bytes.len(),
            "targets": {
                "sign_ms": SIGN_TARGET_MS, "sign_met": sign_ok,
                "verify_ms": VERIFY_TARGET_MS, "verify_met": verify_ok,
                "bytes": SIZE_TARGET, "bytes_met": size_ok,
            },
            "release": !cfg!(debug_assertions),
        });
        println!("{report:#}");
    } else {
        println!(
            "{:<32} {:>10} {:>11} {:>11} {:>11}",
            "operation", "iters", "mean us", "median us", "ops/s"
        );
        for f in figures {
            println!(
                "{:<32} {:>10} {:>11.1} {:>11.1} {:>11.0}",
                f.name,
                f.iterations,
                f.mean_us,
                f.median_us,
                f.per_sec()
            );
        }
        let mark = |ok: bool| if ok { "met" } else { "MISSED" };
        println!();
        println!(
            "build+sign  {:.3} ms = {sign_ratio:.2}x raw sign    (target < {SIGN_TARGET_MS} ms: {})",
            sign.mean_us / 1000.0,
            mark(sign_ok)
        );
        println!(
            "verify      {:.3} ms = {verify_ratio:.2}x raw verify  (target < {VERIFY_TARGET_MS} ms: {})",
            verify.mean_us / 1000.0,
            mark(verify_ok)
        );
        println!(
            "token       {size} bytes (claims {} bytes)         (target < {SIZE_TARGET}: {})",
            claims_bytes.len(),
            mark(size_ok)
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_core: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
