//! `pramaan evidence android|apple` as the built binary, on the real captured evidence in
//! `core/tests/data/evidence` (see its SOURCE.md), the way IT diagnoses a phone: exit 0
//! means the evidence is valid for the challenge at the time given; with `--policy` every
//! unmet `[evidence]` requirement of the department's policy is named and the exit is
//! non-zero. What is checked is what a user sees: exit status, stdout JSON, stderr.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;

/// SHA-256 of the certificate that signs Google's attestation test apps.
const GOOGLE_TEST_SIGNER: &str = "103938ee4537e59e8ee792f654504fb8346fc6b346d0bbc4415fc339fcfc8ec1";
/// SHA-256 of the Play Store's signing certificate (the Sony chain's app).
const PLAY_STORE_SIGNER: &str = "f0fd6c5b410f25cb25c3b53346c8972fae30f8ee7411df910480ad6b2d60db83";
/// The app of the akita chains: Google's attestation collector.
const COLLECTOR: &str = "com.google.wireless.android.security.attestationverifier.collector";

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../core/tests/data/evidence")
        .join(rel)
}

fn pramaan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pramaan"))
        .args(args)
        .output()
        .expect("run pramaan")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// (chain path, challenge base64, creation time RFC 3339) of a real chain.
fn chain(rel: &str) -> (String, String, String) {
    let real = pramaan_testkit::real_evidence::android_chain(rel);
    let pem = pramaan_testkit::real_evidence::android_dir().join(format!("{rel}.pem"));
    let at = time::OffsetDateTime::from_unix_timestamp(real.now as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    (
        pem.to_str().unwrap().to_string(),
        base64::engine::general_purpose::STANDARD.encode(&real.challenge),
        at,
    )
}

/// `pramaan evidence android` on the real chain `rel`, with its own challenge and time,
/// then `extra` arguments.
fn android(rel: &str, extra: &[&str]) -> Output {
    let (pem, challenge, at) = chain(rel);
    let mut args = vec![
        "evidence",
        "android",
        &pem,
        "--challenge-b64",
        &challenge,
        "--at",
        &at,
    ];
    args.extend_from_slice(extra);
    pramaan(&args)
}

/// A department policy file naming one Android app, with `extra` `[evidence.android]` lines.
fn policy_file(dir: &Path, name: &str, package: &str, signer: &str, extra: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "department = \"GAD\"\nemail_domains = [\"gujarat.gov.in\"]\n\n[[platforms]]\nname = \"WhatsApp\"\n\n\
             [evidence.android]\n{extra}\n\n[[evidence.android.apps]]\npackage = \"{package}\"\nsigners = [\"{signer}\"]\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn an_unlocked_phone_with_unverified_boot_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), "p.toml", COLLECTOR, GOOGLE_TEST_SIGNER, "");
    let (pem, _, at) = chain("akita/sdk34/TEE_EC_NONE");
    // Cryptographically valid for its challenge: exit 0 without a policy.
    let out = pramaan(&[
        "evidence",
        "android",
        &pem,
        "--challenge",
        "challenge",
        "--at",
        &at,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["summary"]["verified_boot"], "unverified");
    assert_eq!(v["summary"]["bootloader_locked"], false);
    assert!(v.get("policy").is_none());
    // Under the policy: refused, both named.
    let out = pramaan(&[
        "evidence",
        "android",
        &pem,
        "--challenge",
        "challenge",
        "--at",
        &at,
        "--policy",
        &policy,
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bootloader unlocked"), "{err}");
    assert!(err.contains("verified boot is unverified"), "{err}");
    assert!(err.contains("2 unmet requirements"), "{err}");
    let v = stdout_json(&out);
    assert_eq!(v["policy"]["met"], false);
    assert_eq!(v["policy"]["failures"].as_array().unwrap().len(), 2);
    assert_eq!(v["policy"]["failures"][0]["rule"], "R2");
}

#[test]
fn a_key_made_by_another_app_is_refused_naming_the_attested_package() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "p.toml",
        "gov.gujarat.pramaan",
        GOOGLE_TEST_SIGNER,
        "",
    );
    let out = android("caiman/sdk36/TEE_EC_RKP", &["--policy", &policy]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("key created by com.google.android.attestation, not the Pramaan app (gov.gujarat.pramaan)"),
        "{err}"
    );
    assert!(err.contains("1 unmet requirement:"), "{err}");
    // Right package, another signer: a repackaged app.
    let policy = policy_file(
        dir.path(),
        "q.toml",
        "com.google.android.attestation",
        &"ab".repeat(32),
        "",
    );
    let out = android("caiman/sdk36/TEE_EC_RKP", &["--policy", &policy]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("repackaged"), "{}", stderr(&out));
}

#[test]
fn chains_meeting_every_requirement_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "p.toml",
        "com.google.android.attestation",
        GOOGLE_TEST_SIGNER,
        "min_patch_level = \"2025-06\"\nverified_boot = true\nbootloader_locked = true",
    );
    for rel in [
        "caiman/sdk36/TEE_EC_RKP",
        "caiman/sdk36/SB_EC_RKP",
        "tegu/sdk36/TEE_EC_2026_ROOT",
    ] {
        let out = android(rel, &["--policy", &policy]);
        assert!(out.status.success(), "{rel}: {}", stderr(&out));
        let v = stdout_json(&out);
        assert_eq!(v["policy"]["met"], true, "{rel}");
        assert_eq!(v["policy"]["assurance"], "hardware", "{rel}");
        assert_eq!(
            v["summary"]["app_packages"][0],
            "com.google.android.attestation"
        );
        assert_eq!(v["summary"]["app_signers"][0], GOOGLE_TEST_SIGNER);
    }
    // A patch minimum above the phone's is named.
    let strict = policy_file(
        dir.path(),
        "s.toml",
        "com.google.android.attestation",
        GOOGLE_TEST_SIGNER,
        "min_patch_level = \"2026-01\"",
    );
    let out = android("caiman/sdk36/TEE_EC_RKP", &["--policy", &strict]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("security patch 2025-11 is older than the policy's 2026-01"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn status_lists_decide_revoked_serials_and_expired_keyboxes() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "p.toml",
        "com.android.vending",
        PLAY_STORE_SIGNER,
        "",
    );
    const SONY: &str = "sony-xperia10-iii/sdk33/TEE_EC";
    let list = dir.path().join("status.json");
    std::fs::write(
        &list,
        r#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}"#,
    )
    .unwrap();
    let list = list.to_str().unwrap().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["--policy", policy.as_str()];
        args.extend_from_slice(extra);
        android(SONY, &args)
    };
    // The key was made on 2026-06-04; a list fetched two days before is fresh.
    let out = run(&[
        "--status-list",
        &list,
        "--status-list-fetched",
        "2026-06-02T00:00:00Z",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["summary"]["expired_keybox"], true);
    // Fetched 45 days before: older than the policy's 30.
    let out = run(&[
        "--status-list",
        &list,
        "--status-list-fetched",
        "2026-04-20T00:00:00Z",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("older than the policy's 30"),
        "{}",
        stderr(&out)
    );
    // No list at all.
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no Google revocation status list is loaded"),
        "{}",
        stderr(&out)
    );
    // Without --status-list-fetched the file's modification time says when it was
    // fetched: 2026-04-01 is 64 days before the key was made; 2026-06-03 is fresh.
    let set_mtime = |unix: u64| {
        std::fs::File::options()
            .write(true)
            .open(&list)
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
            .unwrap();
    };
    set_mtime(1_775_001_600); // 2026-04-01T00:00:00Z
    let out = run(&["--status-list", &list]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is 64 days old"), "{}", stderr(&out));
    set_mtime(1_780_444_800); // 2026-06-03T00:00:00Z
    let out = run(&["--status-list", &list]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out)["policy"]["status_list_fetched"],
        "2026-06-03T00:00:00Z"
    );
    // A list naming the keybox's serial.
    let revoked = dir.path().join("revoked.json");
    std::fs::write(
        &revoked,
        r#"{"entries": {"16580768335559031605": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}"#,
    )
    .unwrap();
    let out = run(&[
        "--status-list",
        revoked.to_str().unwrap(),
        "--status-list-fetched",
        "2026-06-02T00:00:00Z",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("certificate 16580768335559031605 in the chain is REVOKED"),
        "{}",
        stderr(&out)
    );
    // --status-list needs --policy.
    let out = android(SONY, &["--status-list", &list]);
    assert!(!out.status.success());
}

#[test]
fn glued_pem_and_url_safe_unpadded_base64_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, challenge, at) = chain("tegu/sdk36/TEE_EC_2026_ROOT");
    let text = std::fs::read_to_string(&pem).unwrap();
    let glued: String = text
        .split("-----END CERTIFICATE-----")
        .filter(|b| b.contains("BEGIN"))
        .map(|b| {
            let body: String = b
                .split("-----BEGIN CERTIFICATE-----")
                .nth(1)
                .unwrap()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap();
            let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der);
            format!("-----BEGIN CERTIFICATE-----{url}-----END CERTIFICATE-----")
        })
        .collect();
    assert!(glued.contains("-----END CERTIFICATE----------BEGIN CERTIFICATE-----"));
    let path = dir.path().join("glued.pem");
    std::fs::write(&path, glued).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&challenge)
        .unwrap();
    let url_challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let out = pramaan(&[
        "evidence",
        "android",
        path.to_str().unwrap(),
        "--challenge-b64",
        &url_challenge,
        "--at",
        &at,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out)["chain_length"],
        text.matches("BEGIN CERTIFICATE").count()
    );
}

#[test]
fn apple_app_attest_under_a_policy_and_assertion_counters() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = data("apple-app-attest/ios-14.2.yaml");
    let yaml = yaml.to_str().unwrap();
    let text = std::fs::read_to_string(yaml).unwrap();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .unwrap()
            .trim_matches('\'')
            .to_string()
    };
    let app_id = format!("{}.{}", field("teamIdentifier"), field("bundleIdentifier"));
    let write = |name: &str, apple: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!(
                "department = \"GAD\"\nemail_domains = [\"gujarat.gov.in\"]\n\n[[platforms]]\nname = \"WhatsApp\"\n\n[evidence.apple]\n{apple}\n"
            ),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    let dev = write(
        "dev.toml",
        &format!("app_ids = [\"{app_id}\"]\nenvironment = \"development\""),
    );
    let prod = write("prod.toml", &format!("app_ids = [\"{app_id}\"]"));
    let other = write(
        "other.toml",
        "app_ids = [\"6MURL8TA57.gov.gujarat.pramaan\"]\nenvironment = \"development\"",
    );

    let out = pramaan(&["evidence", "apple", yaml]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = pramaan(&["evidence", "apple", yaml, "--policy", &dev]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v[0]["policy"]["met"], true);
    assert_eq!(v[0]["summary"]["environment"], "development");

    let out = pramaan(&["evidence", "apple", yaml, "--policy", &prod]);
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("App Attest development environment; the policy accepts production only"),
        "{}",
        stderr(&out)
    );
    let out = pramaan(&["evidence", "apple", yaml, "--policy", &other]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("belongs to another app"),
        "{}",
        stderr(&out)
    );

    // The assertion's counter is 1: a server that saw 1 (replay) or 5 refuses it.
    for previous in ["1", "5"] {
        let out = pramaan(&["evidence", "apple", yaml, "--previous-counter", previous]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains(&format!("assertion counter 1 does not exceed {previous}")),
            "{}",
            stderr(&out)
        );
    }
}
