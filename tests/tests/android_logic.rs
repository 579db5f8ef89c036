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
use std::process::Command;

use pramaan_tests::{
    build_cdylib, find_tool, generate_bindings, jna_jar, kotlin_lib, kotlinc, require_tool,
    workspace_root,
};

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
    let kotlinc = kotlinc();
    let java = find_tool("JAVA", "java");
    let jna = jna_jar();
    if !require_tool("kotlinc", kotlinc.is_some())
        || !require_tool("java", java.is_some())
        || !require_tool("JNA (/usr/share/java/jna.jar)", jna.exists())
    {
        return;
    }
    let (kotlinc, java) = (kotlinc.expect("kotlinc"), java.expect("java"));
    let kotlin_lib = kotlin_lib(&kotlinc);

    let lib = build_cdylib();
    let work = tempfile::tempdir().expect("tempdir");
    let gen_dir = work.path().join("gen");
    generate_bindings(&lib, "kotlin", &gen_dir);
    let generated = gen_dir.join("gov/gujarat/pramaan/pramaan_core.kt");
    assert!(generated.exists(), "no {}", generated.display());

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
    let out = Command::new(&kotlinc)
        .arg(&generated)
        .args(kotlin_files(&logic_dir()))
        .args(&tests)
        .arg("-cp")
        .arg(format!(
            "{}:{}",
            jna.display(),
            kotlin_lib.join("kotlin-test.jar").display()
        ))
        .arg("-d")
        .arg(&jar)
        .output()
        .expect("kotlinc runs");
    assert!(
        out.status.success(),
        "kotlinc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let server = pramaan_testkit::start();
    server.seed();
    let uri = server.enrollment_uri("GAD-001");
    let state = work.path().join("state");
    let lib_dir = lib.parent().expect("lib dir");
    let out = Command::new(&java)
        .arg(format!("-Djna.library.path={}", lib_dir.display()))
        .arg("-cp")
        .arg(format!(
            "{}:{}:{}:{}",
            jar.display(),
            jna.display(),
            kotlin_lib.join("kotlin-stdlib.jar").display(),
            kotlin_lib.join("kotlin-test.jar").display()
        ))
        .arg("gov.gujarat.pramaan.logic.LogicTestsKt")
        .arg(&uri)
        .arg(&state)
        .output()
        .expect("java runs");
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
