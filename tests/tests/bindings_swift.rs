//! Swift without a compiler: generate the Swift bindings, C header and module map from the
//! built cdylib (build output in a temporary directory, never committed) and check the
//! Swift syntax with tree-sitter-swift; the same check covers `ios/` and, with
//! tree-sitter-kotlin, the Android platform sources in `android/`.
//!
//! Needs python3 (`$PRAMAAN_PYTHON` or PATH) with `tree-sitter`, `tree-sitter-swift` and
//! `tree-sitter-kotlin`. Missing pieces fail the test when `CI=true` and skip it otherwise.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pramaan_tests::{build_cdylib, find_tool, generate_bindings, require_tool, workspace_root};

fn has_modules(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            "import tree_sitter, tree_sitter_swift, tree_sitter_kotlin",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn check(python: &Path, language: &str, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(python)
        .arg(workspace_root().join("tests/python/check_syntax.py"))
        .arg(language)
        .args(files)
        .output()
        .expect("python runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Build output a local Gradle, SwiftPM or Xcode run leaves in the tree (not sources).
const BUILD_DIRS: &[&str] = &["build", ".build", ".gradle", "DerivedData"];

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            let name = e.file_name();
            let name = name.to_str().unwrap_or("");
            if !BUILD_DIRS.contains(&name) && !name.ends_with(".xcframework") {
                files_with_ext(&p, ext, out);
            }
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

#[test]
fn swift_bindings_generate_and_parse() {
    let python = find_tool("PRAMAAN_PYTHON", "python3");
    if !require_tool("python3", python.is_some()) {
        return;
    }
    let python = python.expect("python");
    if !require_tool(
        "Python packages tree-sitter, tree-sitter-swift, tree-sitter-kotlin",
        has_modules(&python),
    ) {
        return;
    }
    let lib = build_cdylib();
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("swift");
    generate_bindings(&lib, "swift", &out);
    let swift = out.join("PramaanCore.swift");
    let header = std::fs::read_to_string(out.join("PramaanCoreFFI.h")).expect("header");
    let modulemap =
        std::fs::read_to_string(out.join("PramaanCoreFFI.modulemap")).expect("modulemap");
    assert!(modulemap.contains("PramaanCoreFFI"), "{modulemap}");
    // C symbols take uniffi's prefix from the crate name (`pramaan_ffi`), not from the
    // namespace (`pramaan_core`, which names the Kotlin file and Python module).
    for symbol in [
        "uniffi_pramaan_ffi_fn_constructor_agent_new",
        "uniffi_pramaan_ffi_fn_method_agent_check_in",
        "uniffi_pramaan_ffi_fn_method_agent_enroll",
    ] {
        assert!(header.contains(symbol), "{symbol} not in the header");
    }
    let swift_text = std::fs::read_to_string(&swift).expect("swift");
    assert!(swift_text.contains("public protocol Signer"));
    assert!(swift_text.contains("public protocol DeviceFacts"));
    // Verdict, rule and assurance cross as enums, so a Swift `switch` on them is exhaustive.
    for decl in [
        "public enum Status: Equatable, Hashable",
        "public enum Rule: Equatable, Hashable",
        "public enum Assurance: Equatable, Hashable",
        "public var status: Status",
        "public var rule: Rule",
        "public var assurance: Assurance",
        // The officer's words and next steps (issue 11).
        "case compliant",
        "case noncompliant",
        "public var hint: String",
        "public var revoked: RevocationInfo?",
        "case Revoked(",
    ] {
        assert!(
            swift_text.contains(decl),
            "{decl} not in the Swift bindings"
        );
    }

    let mut swift_files = vec![swift];
    files_with_ext(&workspace_root().join("ios"), "swift", &mut swift_files);
    let (ok, report) = check(&python, "swift", &swift_files);
    assert!(ok, "Swift syntax:\n{report}");

    let mut kotlin_files = Vec::new();
    files_with_ext(&workspace_root().join("android"), "kt", &mut kotlin_files);
    if !kotlin_files.is_empty() {
        let (ok, report) = check(&python, "kotlin", &kotlin_files);
        assert!(ok, "Kotlin syntax:\n{report}");
    }

    // The checker does catch broken code.
    let broken = work.path().join("broken.swift");
    std::fs::write(&broken, "public func f( -> {\n").expect("write");
    let (ok, _) = check(&python, "swift", &[broken]);
    assert!(!ok, "a broken Swift file must fail the syntax check");
}
