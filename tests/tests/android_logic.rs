//! The Android app's plain-Kotlin logic on the JVM: build the host cdylib, generate the
//! Kotlin bindings, compile them with `android/pramaan/src/main/kotlin/.../logic/*.kt`
//! and the tests in `android/pramaan/src/test/kotlin/.../logic/` in one kotlinc call, and
//! run the tests against the host core and a real test server (a fresh enrollment token of
//! officer GAD-001 is their argument). The run prints one line per test and `N passed,
//! M failed`; this test wants `0 failed`, at least as many passed as the file has tests,
//! and a zero exit code.
//!
//! That the logic imports no Android, AndroidX or Google class (so what is tested here is
//! all there is to it) is `platform_checks.rs`'s job.
//!
//! Tools as in `bindings_kotlin.rs`: kotlinc, java, JNA. Missing tools fail the test when
//! `CI=true` and skip it otherwise.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use pramaan_tests::{KotlinJvm, workspace_root};

fn kotlin_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no Kotlin files in {}", dir.display());
    files
}

fn logic_dir() -> PathBuf {
    workspace_root().join("android/pramaan/src/main/kotlin/gov/gujarat/pramaan/logic")
}

fn test_dir() -> PathBuf {
    workspace_root().join("android/pramaan/src/test/kotlin/gov/gujarat/pramaan/logic")
}

#[test]
fn android_logic_runs_on_the_jvm() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(kotlin) = KotlinJvm::setup(work.path()) else {
        return;
    };

    let tests = kotlin_files(&test_dir());
    let declared: usize = tests
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            text.lines()
                .filter(|l| l.trim_start().starts_with('"') && l.contains("\" to "))
                .count()
        })
        .sum();
    assert!(declared >= 20, "only {declared} tests listed in main");

    let jar = work.path().join("logic.jar");
    let mut sources = kotlin_files(&logic_dir());
    sources.extend(tests);
    kotlin.compile(&sources, &jar);

    let server = pramaan_testkit::start();
    server.seed();
    let uri = server.enrollment_uri("GAD-001");
    let state = work.path().join("state");
    let out = kotlin.run(
        &jar,
        "gov.gujarat.pramaan.logic.LogicTestsKt",
        &[uri.as_ref(), state.as_os_str()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"));
    let passed: usize = summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("passed count");
    assert!(
        out.status.success() && summary.ends_with(", 0 failed") && passed == declared,
        "{summary} ({declared} declared)\n{stdout}\n{stderr}"
    );

    // The enrollment the tests made is the server's: one device for GAD-001, on Android.
    let officer = server.officer("GAD-001").to_string();
    assert!(officer.contains("android"), "{officer}");
}
