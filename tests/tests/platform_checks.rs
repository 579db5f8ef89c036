//! What can be checked of the Android and iOS apps on a host with neither SDK: the
//! platform files call only names the generated bindings declare (so a change of the
//! core's FFI surface fails here, not on a developer's Mac or Android Studio), the plain
//! logic imports no platform framework (so it stays testable on the JVM), the build scripts
//! are shellcheck clean, and the Android manifest and the iOS Info.plist declare what the
//! apps need for every app of the built-in catalog (a package missing from `<queries>` or a
//! URL scheme missing from `LSApplicationQueriesSchemes` makes that app look absent on the
//! phone: a wrong "not installed" for the officer, with no error anywhere).
//!
//! Tools: python3 (`$PRAMAAN_PYTHON` or PATH) with `tree-sitter`, `tree-sitter-kotlin`,
//! `tree-sitter-swift`; `shellcheck` (`$SHELLCHECK` or PATH). Missing tools fail the test
//! when `CI=true` and skip it otherwise; so do missing Android or iOS files (they arrive
//! with the apps; CI runs on the merged tree, where they must exist).
//!
//! The allow lists `android/platform-api.txt` and `ios/platform-api.txt` are regenerated
//! from the platform files by
//! `PRAMAAN_UPDATE_PLATFORM_API=1 cargo test -p pramaan-tests --test platform_checks platform_files`
//! (then review the diff: a misspelt binding name would land there too).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pramaan_core::policy::catalog::Catalog;
use pramaan_tests::{build_cdylib, ci, find_tool, generate_bindings, require_tool, workspace_root};

// --- files ------------------------------------------------------------------------------

/// Directories never walked: build output and the generated Swift bindings' module.
const SKIPPED_DIRS: &[&str] = &["build", ".build", ".gradle", "DerivedData", "PramaanCore"];

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !SKIPPED_DIRS.contains(&name) && !name.ends_with(".xcframework") {
                files_with_ext(&p, ext, out);
            }
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

fn files_under(dirs: &[&str], ext: &str) -> Vec<PathBuf> {
    let root = workspace_root();
    let mut out = Vec::new();
    for d in dirs {
        files_with_ext(&root.join(d), ext, &mut out);
    }
    out
}

/// The Android-API Kotlin files (checked) and the plain-Kotlin logic (declarations only).
const ANDROID_PLATFORM_DIRS: &[&str] = &[
    "android/pramaan/src/main/kotlin/gov/gujarat/pramaan/platform",
    "android/app/src/main/kotlin",
    "android/src/main/kotlin",
];
const ANDROID_LOGIC_DIR: &str = "android/pramaan/src/main/kotlin/gov/gujarat/pramaan/logic";
/// Every Swift file of the app but the generated bindings (`ios/Sources/PramaanCore/`).
const IOS_DIRS: &[&str] = &["ios/Sources/Pramaan", "ios/Sources/PramaanLogic", "ios/App"];
const IOS_LOGIC_DIR: &str = "ios/Sources/PramaanLogic";

/// A file the merged tree must have: `None` (after a SKIP line) when it is absent outside CI.
fn required_file(rel: &str) -> Option<PathBuf> {
    let p = workspace_root().join(rel);
    if p.is_file() {
        return Some(p);
    }
    if ci() {
        panic!("CI=true but {rel} is missing");
    }
    eprintln!("SKIP: {rel} is missing (it comes with the Android or iOS app)");
    None
}

fn relative(p: &Path) -> String {
    p.strip_prefix(workspace_root())
        .unwrap_or(p)
        .display()
        .to_string()
}

// --- names from the bindings ------------------------------------------------------------

fn python() -> Option<PathBuf> {
    let python = find_tool("PRAMAAN_PYTHON", "python3");
    if !require_tool("python3", python.is_some()) {
        return None;
    }
    let python = python.expect("python");
    let modules = Command::new(&python)
        .args([
            "-c",
            "import tree_sitter, tree_sitter_swift, tree_sitter_kotlin",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !require_tool(
        "Python packages tree-sitter, tree-sitter-swift, tree-sitter-kotlin",
        modules,
    ) {
        return None;
    }
    Some(python)
}

struct Check<'a> {
    python: &'a Path,
    lang: &'a str,
    bindings: &'a Path,
    allow: &'a Path,
    own: &'a [PathBuf],
}

impl Check<'_> {
    /// Runs the checker from the workspace root; returns (passed, stdout + stderr).
    fn run(&self, files: &[PathBuf], extra: &[&str]) -> (bool, String) {
        let out = Command::new(self.python)
            .current_dir(workspace_root())
            .arg("tests/python/check_binding_names.py")
            .args(["--lang", self.lang, "--bindings"])
            .arg(self.bindings)
            .arg("--allow")
            .arg(relative(self.allow))
            .args(extra)
            .arg("--own")
            .args(self.own.iter().map(|f| relative(f)))
            .arg("--")
            .args(files.iter().map(|f| relative(f)))
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
}

const ALLOW_HEADER: &str = "\
# {file}: the names the {lang} platform files use that are not the core's: the
# {sdk} SDK's, the language's and its standard library's (one a line, `#` comments).
# tests/tests/platform_checks.rs (tests/python/check_binding_names.py) requires every other
# name those files use to be declared in the generated bindings, so a change of the core's
# FFI surface fails CI instead of the officer's build. A name the bindings declare must
# never be listed here (the checker refuses it: its removal from the core would go
# unnoticed).
#
# Generated; regenerate after changing the platform files, then review the diff by eye (a
# misspelt binding name would land here too):
#   PRAMAAN_UPDATE_PLATFORM_API=1 cargo test -p pramaan-tests --test platform_checks platform_files
";

/// Rewrites an allow list from what the platform files use today (see the header).
fn regenerate(check: &Check<'_>, files: &[PathBuf], platform: &str, rel: &str) {
    let empty = tempfile::NamedTempFile::new().expect("temp file");
    let seed = Check {
        allow: empty.path(),
        ..*check
    };
    let (ok, names) = seed.run(files, &["--print-unknown"]);
    assert!(ok, "{names}");
    let lang = if check.lang == "kotlin" {
        "Kotlin"
    } else {
        "Swift"
    };
    let header = ALLOW_HEADER
        .replace("{file}", rel)
        .replace("{lang}", lang)
        .replace("{sdk}", platform);
    std::fs::write(workspace_root().join(rel), format!("{header}\n{names}")).expect("write");
    eprintln!("wrote {rel}");
}

/// `bindings` with two declarations renamed, as a change of the core would leave them:
/// the method `checkIn` (platform files call it) and the foreign trait `Signer`'s
/// `publicKey` (platform files implement it).
fn renamed_bindings(bindings: &Path, lang: &str, out: &Path) {
    let text = std::fs::read_to_string(bindings).expect("bindings");
    let mut renamed = text.clone();
    for name in ["checkIn", "publicKey"] {
        let before = renamed.clone();
        renamed = match lang {
            "kotlin" => renamed
                .replace(&format!("fun `{name}`("), &format!("fun `{name}Renamed`("))
                .replace(&format!("fun {name}("), &format!("fun {name}Renamed(")),
            _ => renamed.replace(&format!("func {name}("), &format!("func {name}Renamed(")),
        };
        assert_ne!(
            renamed,
            before,
            "no {name} declaration in {}",
            bindings.display()
        );
    }
    std::fs::write(out, renamed).expect("write");
}

/// Calls `checkIn` and implements `Signer`, with no name but the bindings' and `ByteArray`.
const KOTLIN_FIXTURE: &str = "\
package gov.gujarat.pramaan.platform

import gov.gujarat.pramaan.Agent
import gov.gujarat.pramaan.CheckInResult
import gov.gujarat.pramaan.DeviceFacts
import gov.gujarat.pramaan.Signer

fun checkInOnce(agent: Agent, facts: DeviceFacts): CheckInResult = agent.checkIn(facts)

class FixedSigner(private val key: ByteArray) : Signer {
    override fun publicKey(): ByteArray = key
    override fun sign(message: ByteArray): ByteArray = message
}
";

/// The same in Swift, with `Data`.
const SWIFT_FIXTURE: &str = "\
import Foundation
import PramaanCore

func checkInOnce(agent: Agent, facts: DeviceFacts) throws -> CheckInResult {
    try agent.checkIn(facts: facts)
}

final class FixedSigner: Signer {
    let key: Data
    init(key: Data) { self.key = key }
    func publicKey() throws -> Data { key }
    func sign(message: Data) throws -> Data { message }
}
";

#[test]
fn platform_files_call_only_names_the_bindings_declare() {
    let Some(python) = python() else {
        return;
    };
    let lib = build_cdylib();
    let work = tempfile::tempdir().expect("tempdir");
    generate_bindings(&lib, "kotlin", &work.path().join("kotlin"));
    generate_bindings(&lib, "swift", &work.path().join("swift"));
    let kotlin_bindings = work
        .path()
        .join("kotlin/gov/gujarat/pramaan/pramaan_core.kt");
    let swift_bindings = work.path().join("swift/PramaanCore.swift");
    let update = std::env::var_os("PRAMAAN_UPDATE_PLATFORM_API").is_some();

    let kotlin_files = files_under(ANDROID_PLATFORM_DIRS, "kt");
    let kotlin_own = files_under(&[ANDROID_LOGIC_DIR], "kt");
    let swift_files = files_under(IOS_DIRS, "swift");
    assert!(!kotlin_files.is_empty(), "no Android platform Kotlin files");
    assert!(!swift_files.is_empty(), "no iOS Swift files");

    let root = workspace_root();
    let android_allow = root.join("android/platform-api.txt");
    let ios_allow = root.join("ios/platform-api.txt");
    let no_own: Vec<PathBuf> = Vec::new();
    let kotlin = Check {
        python: &python,
        lang: "kotlin",
        bindings: &kotlin_bindings,
        allow: &android_allow,
        own: &kotlin_own,
    };
    let swift = Check {
        python: &python,
        lang: "swift",
        bindings: &swift_bindings,
        allow: &ios_allow,
        own: &no_own,
    };
    if update {
        regenerate(
            &kotlin,
            &kotlin_files,
            "Android",
            "android/platform-api.txt",
        );
        regenerate(&swift, &swift_files, "iOS", "ios/platform-api.txt");
    }

    // The checker catches a change of the core: with `checkIn` and `Signer.publicKey`
    // renamed in a copy of the bindings, it fails a file that calls the one and implements
    // the other (a fixture, so this holds before the apps exist), naming both; and so every
    // real platform file that calls `checkIn` or implements `Signer`.
    let fixture_allow = work.path().join("fixture-allow.txt");
    std::fs::write(&fixture_allow, "ByteArray\nData\n").expect("write");
    for (check, files, fixture, name) in [
        (&kotlin, &kotlin_files, KOTLIN_FIXTURE, "Fixture.kt"),
        (&swift, &swift_files, SWIFT_FIXTURE, "Fixture.swift"),
    ] {
        let fixture_path = work.path().join(name);
        std::fs::write(&fixture_path, fixture).expect("write");
        let as_written = Check {
            allow: &fixture_allow,
            ..*check
        };
        let (ok, report) = as_written.run(std::slice::from_ref(&fixture_path), &[]);
        assert!(
            ok,
            "the {} fixture must pass as written:\n{report}",
            check.lang
        );

        let renamed = work.path().join(format!("renamed-{name}"));
        renamed_bindings(check.bindings, check.lang, &renamed);
        let broken = Check {
            bindings: &renamed,
            allow: &fixture_allow,
            ..*check
        };
        let mut all = files.clone();
        all.push(fixture_path.clone());
        let (ok, report) = broken.run(&all, &[]);
        assert!(
            !ok,
            "{} check passed with renamed bindings:\n{report}",
            check.lang
        );
        for f in &all {
            let text = std::fs::read_to_string(f).expect("read");
            let named = |what: &str| {
                report
                    .lines()
                    .any(|l| l.starts_with(&relative(f)) && l.contains(what))
            };
            if text.contains(".checkIn(") {
                assert!(
                    named("`checkIn` is not in the generated bindings"),
                    "{} calls checkIn but the check against renamed bindings does not say so:\n{report}",
                    f.display()
                );
            }
            let implements_signer = [": Signer {", ": Signer,", ", Signer {", ", Signer,"]
                .iter()
                .any(|p| text.contains(p));
            if implements_signer {
                assert!(
                    named("declares no `publicKeyRenamed`"),
                    "{} implements Signer but the check against renamed bindings does not say so:\n{report}",
                    f.display()
                );
            }
        }
    }

    // A wildcard import of the bindings' package hides which names come from them, and an
    // import of a name they do not declare is as wrong as a call; a binding name in the
    // allow list would hide its removal from the core.
    let wildcard = work.path().join("Wildcard.kt");
    std::fs::write(
        &wildcard,
        "package gov.gujarat.pramaan.app\n\nimport gov.gujarat.pramaan.*\nimport gov.gujarat.pramaan.NoSuchRecord\n",
    )
    .expect("write");
    let bad_allow = work.path().join("bad-allow.txt");
    std::fs::write(&bad_allow, "# a binding name:\ncheckIn\n").expect("write");
    let with_bad_allow = Check {
        allow: &bad_allow,
        ..kotlin
    };
    let (ok, report) = with_bad_allow.run(&[wildcard], &[]);
    assert!(
        !ok && report.contains("wildcard import `gov.gujarat.pramaan.*`")
            && report.contains("`NoSuchRecord` is not in the generated bindings")
            && report.contains("`checkIn` is declared in the generated bindings"),
        "{report}"
    );

    // The real files against the real bindings.
    for (check, files) in [(&kotlin, &kotlin_files), (&swift, &swift_files)] {
        assert!(
            check.allow.is_file(),
            "{} is missing (regenerate it: see this file's header)",
            relative(check.allow)
        );
        let (ok, report) = check.run(files, &[]);
        assert!(
            ok,
            "{} platform files use names the bindings do not declare:\n{report}\n\
             (a core change: fix the platform file; a platform or library name: regenerate \
             the allow list with PRAMAAN_UPDATE_PLATFORM_API=1 cargo test -p pramaan-tests \
             --test platform_checks platform_files, and review its diff)",
            check.lang
        );
    }
}

// --- plain logic ------------------------------------------------------------------------

/// Imports of a platform framework in a plain-Kotlin logic file (`file:line: import`).
fn kotlin_platform_imports(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read");
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let target = line.trim().strip_prefix("import ")?.trim();
            ["android.", "androidx.", "com.google."]
                .iter()
                .any(|p| target.starts_with(p))
                .then(|| format!("{}:{}: import {target}", path.display(), i + 1))
        })
        .collect()
}

/// Imports in a plain-Swift logic file of any module but Foundation and PramaanCore.
fn swift_platform_imports(path: &Path) -> Vec<String> {
    const KINDS: &[&str] = &[
        "struct",
        "class",
        "enum",
        "protocol",
        "typealias",
        "func",
        "var",
        "let",
    ];
    let text = std::fs::read_to_string(path).expect("read");
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            // `@testable import X`, `@_exported import X`, `import struct X.Y`.
            let mut words = line.split_whitespace().skip_while(|w| w.starts_with('@'));
            if words.next()? != "import" {
                return None;
            }
            let mut path_word = words.next()?;
            if KINDS.contains(&path_word) {
                path_word = words.next()?;
            }
            let module = path_word.split('.').next().unwrap_or(path_word);
            (!matches!(module, "Foundation" | "PramaanCore"))
                .then(|| format!("{}:{}: import {module}", path.display(), i + 1))
        })
        .collect()
}

#[test]
fn plain_logic_imports_no_platform_framework() {
    // The check catches a platform import.
    let work = tempfile::tempdir().expect("tempdir");
    let kt = work.path().join("Bad.kt");
    std::fs::write(
        &kt,
        "package gov.gujarat.pramaan.logic\n\nimport java.time.Instant\nimport android.content.Context\n",
    )
    .expect("write");
    assert_eq!(
        kotlin_platform_imports(&kt).len(),
        1,
        "android.content not caught"
    );
    let swift = work.path().join("Bad.swift");
    std::fs::write(
        &swift,
        "import Foundation\nimport PramaanCore\n@preconcurrency import UIKit\nimport struct SwiftUI.Color\n",
    )
    .expect("write");
    let found = swift_platform_imports(&swift);
    assert!(
        found.len() == 2 && found[0].ends_with("UIKit") && found[1].ends_with("SwiftUI"),
        "{found:?}"
    );

    let kotlin_logic = files_under(&[ANDROID_LOGIC_DIR], "kt");
    let swift_logic = files_under(&[IOS_LOGIC_DIR], "swift");
    for (dir, files) in [
        (ANDROID_LOGIC_DIR, &kotlin_logic),
        (IOS_LOGIC_DIR, &swift_logic),
    ] {
        if files.is_empty() {
            if ci() {
                panic!("CI=true but {dir} has no source files");
            }
            eprintln!("SKIP: {dir} has no source files yet");
        }
    }
    let mut problems: Vec<String> = kotlin_logic
        .iter()
        .flat_map(|f| kotlin_platform_imports(f))
        .collect();
    problems.extend(swift_logic.iter().flat_map(|f| swift_platform_imports(f)));
    assert!(
        problems.is_empty(),
        "the plain logic (tested on the host) imports a platform framework:\n{}",
        problems.join("\n")
    );
}

// --- build scripts ----------------------------------------------------------------------

fn shellcheck(tool: &Path, script: &Path) -> (bool, String) {
    let out = Command::new(tool)
        .current_dir(workspace_root())
        .arg(script)
        .output()
        .expect("shellcheck runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn build_scripts_are_shellcheck_clean() {
    let tool = find_tool("SHELLCHECK", "shellcheck");
    if !require_tool("shellcheck", tool.is_some()) {
        return;
    }
    let tool = tool.expect("shellcheck");

    // The check catches an unquoted argument.
    let work = tempfile::tempdir().expect("tempdir");
    let bad = work.path().join("bad.sh");
    std::fs::write(&bad, "#!/usr/bin/env bash\nrm -rf $1/build\n").expect("write");
    let (ok, report) = shellcheck(&tool, &bad);
    assert!(!ok && report.contains("SC2086"), "{report}");

    let mut scripts = vec![
        workspace_root().join(".ci/run"),
        workspace_root().join("tests/fuzz/run"),
        workspace_root().join("tests/postgres/cluster"),
        workspace_root().join("tests/postgres/bench-instances"),
        workspace_root().join("server/tests/fixtures/schema/make-sqlite.sh"),
        workspace_root().join("server/tests/fixtures/schema/update-current.sh"),
    ];
    for rel in ["android/build-rust.sh", "ios/build-xcframework.sh"] {
        scripts.extend(required_file(rel));
    }
    let mut failures = Vec::new();
    for script in &scripts {
        let (ok, report) = shellcheck(&tool, script);
        if !ok {
            failures.push(format!("{}:\n{report}", relative(script)));
        }
    }
    assert!(failures.is_empty(), "shellcheck:\n{}", failures.join("\n"));
}

// --- Android manifest -------------------------------------------------------------------

/// XML as Apple writes it (a plist has a DOCTYPE line; no entity is declared or expanded).
fn parse_xml(xml: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(xml, options)
}

const ANDROID_NS: &str = "http://schemas.android.com/apk/res/android";

fn android_attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attribute((ANDROID_NS, name))
}

/// What the app manifest lacks for the catalog's apps, the enrollment link and the camera.
fn manifest_problems(xml: &str, packages: &[String]) -> Vec<String> {
    let doc = match parse_xml(xml) {
        Ok(d) => d,
        Err(e) => return vec![format!("not XML: {e}")],
    };
    let root = doc.root_element();
    let mut problems = Vec::new();
    let queried: Vec<&str> = root
        .children()
        .filter(|n| n.has_tag_name("queries"))
        .flat_map(|q| q.children().filter(|n| n.has_tag_name("package")))
        .filter_map(|p| android_attr(p, "name"))
        .collect();
    for p in packages {
        if !queried.contains(&p.as_str()) {
            problems.push(format!(
                "no <queries><package android:name=\"{p}\"/>: PackageManager would not see it"
            ));
        }
    }

    let enroll_filter = root
        .descendants()
        .filter(|n| n.has_tag_name("intent-filter"))
        .find(|f| {
            let data: Vec<_> = f.children().filter(|n| n.has_tag_name("data")).collect();
            data.iter()
                .any(|d| android_attr(*d, "scheme") == Some("pramaan"))
                && data
                    .iter()
                    .any(|d| android_attr(*d, "host") == Some("enroll"))
        });
    match enroll_filter {
        None => problems.push(
            "no <intent-filter> with <data android:scheme=\"pramaan\" android:host=\"enroll\">"
                .into(),
        ),
        Some(f) => {
            let has = |tag: &str, name: &str| {
                f.children()
                    .any(|n| n.has_tag_name(tag) && android_attr(n, "name") == Some(name))
            };
            if !has("action", "android.intent.action.VIEW") {
                problems.push("the pramaan://enroll filter lacks action VIEW".into());
            }
            if !has("category", "android.intent.category.BROWSABLE") {
                problems.push(
                    "the pramaan://enroll filter lacks category BROWSABLE (a tapped link would not open the app)"
                        .into(),
                );
            }
        }
    }

    let camera = root.children().any(|n| {
        n.has_tag_name("uses-permission")
            && android_attr(n, "name") == Some("android.permission.CAMERA")
    });
    if !camera {
        problems.push("no <uses-permission android:name=\"android.permission.CAMERA\"/>".into());
    }
    problems
}

#[test]
fn manifest_queries_every_catalog_package() {
    let packages: Vec<String> = Catalog::builtin()
        .entries()
        .iter()
        .filter_map(|e| e.spec.android_package.clone())
        .collect();
    assert!(packages.len() >= 5, "catalog: {packages:?}");

    // The check catches a missing package, filter and permission.
    let partial = "<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\">\
        <queries><package android:name=\"com.whatsapp\"/></queries>\
        <application><activity android:name=\".Main\"><intent-filter>\
        <action android:name=\"android.intent.action.VIEW\"/>\
        <data android:scheme=\"https\"/></intent-filter></activity></application></manifest>";
    let found = manifest_problems(partial, &packages);
    assert_eq!(found.len(), packages.len() - 1 + 2, "{found:#?}");
    assert!(!found.iter().any(|p| p.contains("\"com.whatsapp\"")));
    assert!(found.iter().any(|p| p.contains("org.telegram.messenger")));

    // And passes a manifest that has them all.
    let queries: String = packages
        .iter()
        .map(|p| format!("<package android:name=\"{p}\"/>"))
        .collect();
    let complete = format!(
        "<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\">\
        <uses-permission android:name=\"android.permission.CAMERA\"/>\
        <queries>{queries}</queries>\
        <application><activity android:name=\".Main\"><intent-filter>\
        <action android:name=\"android.intent.action.VIEW\"/>\
        <category android:name=\"android.intent.category.DEFAULT\"/>\
        <category android:name=\"android.intent.category.BROWSABLE\"/>\
        <data android:scheme=\"pramaan\" android:host=\"enroll\"/></intent-filter>\
        </activity></application></manifest>"
    );
    let found = manifest_problems(&complete, &packages);
    assert!(found.is_empty(), "{found:#?}");

    let Some(path) = required_file("android/app/src/main/AndroidManifest.xml") else {
        return;
    };
    let xml = std::fs::read_to_string(&path).expect("read manifest");
    let problems = manifest_problems(&xml, &packages);
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        relative(&path),
        problems.join("\n")
    );
}

// --- iOS Info.plist ---------------------------------------------------------------------

/// A property list value, as much of it as these checks read.
#[derive(Debug)]
enum Plist {
    String(String),
    Array(Vec<Plist>),
    Dict(Vec<(String, Plist)>),
    Other,
}

impl Plist {
    fn parse(node: roxmltree::Node<'_, '_>) -> Plist {
        let elements = || node.children().filter(|n| n.is_element());
        match node.tag_name().name() {
            "string" => Plist::String(node.text().unwrap_or("").to_string()),
            "array" => Plist::Array(elements().map(Plist::parse).collect()),
            "dict" => {
                let mut out = Vec::new();
                let mut it = elements();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    out.push((k.text().unwrap_or("").to_string(), Plist::parse(v)));
                }
                Plist::Dict(out)
            }
            _ => Plist::Other,
        }
    }

    fn get(&self, key: &str) -> Option<&Plist> {
        match self {
            Plist::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn strings(&self) -> Vec<&str> {
        match self {
            Plist::Array(items) => items
                .iter()
                .filter_map(|i| match i {
                    Plist::String(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn items(&self) -> &[Plist] {
        match self {
            Plist::Array(items) => items,
            _ => &[],
        }
    }
}

const CHECK_IN_TASK: &str = "gov.gujarat.pramaan.checkin";

/// What the Info.plist lacks for the catalog's URL schemes, the camera, the background
/// check-in and the enrollment link.
fn info_plist_problems(xml: &str, schemes: &[String]) -> Vec<String> {
    let doc = match parse_xml(xml) {
        Ok(d) => d,
        Err(e) => return vec![format!("not XML: {e}")],
    };
    let Some(dict) = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("dict"))
    else {
        return vec!["no top-level <dict>".into()];
    };
    let plist = Plist::parse(dict);
    let mut problems = Vec::new();
    let strings = |key: &str| plist.get(key).map(Plist::strings).unwrap_or_default();

    let queried = strings("LSApplicationQueriesSchemes");
    for s in schemes {
        if !queried.contains(&s.as_str()) {
            problems.push(format!(
                "LSApplicationQueriesSchemes lacks {s:?}: canOpenURL would say it is not installed"
            ));
        }
    }
    match plist.get("NSCameraUsageDescription") {
        Some(Plist::String(s)) if !s.trim().is_empty() => {}
        _ => problems.push(
            "NSCameraUsageDescription is missing or empty (the QR scanner would crash)".into(),
        ),
    }
    if !strings("BGTaskSchedulerPermittedIdentifiers").contains(&CHECK_IN_TASK) {
        problems.push(format!(
            "BGTaskSchedulerPermittedIdentifiers lacks {CHECK_IN_TASK:?}"
        ));
    }
    let modes = strings("UIBackgroundModes");
    if !modes.contains(&"fetch") && !modes.contains(&"processing") {
        problems.push(
            "UIBackgroundModes has neither \"fetch\" nor \"processing\" (BGTaskScheduler refuses the task)"
                .into(),
        );
    }
    let url_schemes: Vec<&str> = plist
        .get("CFBundleURLTypes")
        .map(Plist::items)
        .unwrap_or_default()
        .iter()
        .flat_map(|t| {
            t.get("CFBundleURLSchemes")
                .map(Plist::strings)
                .unwrap_or_default()
        })
        .collect();
    if !url_schemes.contains(&"pramaan") {
        problems.push("CFBundleURLTypes has no \"pramaan\" scheme (pramaan://enroll links)".into());
    }
    problems
}

#[test]
fn info_plist_lists_every_catalog_url_scheme() {
    let schemes: Vec<String> = Catalog::builtin()
        .entries()
        .iter()
        .filter_map(|e| e.spec.ios_url_scheme.clone())
        .collect();
    assert!(schemes.len() >= 3, "catalog: {schemes:?}");

    // The check catches a missing scheme, camera text, task and URL type.
    let partial = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\
        <plist version=\"1.0\"><dict>\
        <key>LSApplicationQueriesSchemes</key><array><string>whatsapp</string></array>\
        <key>NSCameraUsageDescription</key><string> </string>\
        <key>UIBackgroundModes</key><array><string>fetch</string></array>\
        <key>CFBundleURLTypes</key><array><dict><key>CFBundleURLSchemes</key>\
        <array><string>https</string></array></dict></array>\
        </dict></plist>";
    let found = info_plist_problems(partial, &schemes);
    assert_eq!(found.len(), schemes.len() - 1 + 3, "{found:#?}");
    assert!(found.iter().any(|p| p.contains("\"tg\"")));

    // And passes one that has them all.
    let queried: String = schemes
        .iter()
        .map(|s| format!("<string>{s}</string>"))
        .collect();
    let complete = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\
        <plist version=\"1.0\"><dict>\
        <key>LSApplicationQueriesSchemes</key><array>{queried}</array>\
        <key>NSCameraUsageDescription</key><string>Scan the enrollment QR code.</string>\
        <key>BGTaskSchedulerPermittedIdentifiers</key><array><string>{CHECK_IN_TASK}</string></array>\
        <key>UIBackgroundModes</key><array><string>fetch</string></array>\
        <key>CFBundleURLTypes</key><array><dict><key>CFBundleURLName</key><string>enroll</string>\
        <key>CFBundleURLSchemes</key><array><string>pramaan</string></array></dict></array>\
        </dict></plist>"
    );
    let found = info_plist_problems(&complete, &schemes);
    assert!(found.is_empty(), "{found:#?}");

    let Some(path) = required_file("ios/App/Info.plist") else {
        return;
    };
    let xml = std::fs::read_to_string(&path).expect("read Info.plist");
    let mut problems = info_plist_problems(&xml, &schemes);
    // The identifier the plist permits is the one the app registers and submits.
    let registered = files_under(&["ios/Sources/Pramaan", "ios/App"], "swift")
        .iter()
        .any(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .contains(CHECK_IN_TASK)
        });
    if !registered {
        problems.push(format!(
            "no Swift file under ios/Sources/Pramaan or ios/App names {CHECK_IN_TASK:?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        relative(&path),
        problems.join("\n")
    );
}
