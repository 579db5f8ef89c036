//! The bindings tests' own helpers: building the cdylib and the bindings generator,
//! generating bindings, finding tools (Kotlin, Java, Python, Swift) and reading a bindings
//! program's output.
//!
//! The server (over real TLS, with department IT's steps through the public HTTP API:
//! registry, policy, enrollment tokens) and the fixtures are pramaan-testkit's, shared with
//! the server's and the CLI's tests.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether the environment says missing tools are failures (CI) or skips.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports a missing tool: panics under CI, prints SKIP otherwise. Returns false to skip.
pub fn require_tool(what: &str, found: bool) -> bool {
    if found {
        return true;
    }
    if ci() {
        panic!("CI=true but {what} is missing (see the install steps in .ci/run)");
    }
    eprintln!("SKIP: {what} is missing");
    false
}

/// The workspace root (for `target/` and generated bindings).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds `libpramaan_ffi.so` (debug) and the `uniffi-bindgen` binary in one cargo
/// invocation (one feature set, so repeated runs are cached), and returns the library path.
pub fn build_cdylib() -> PathBuf {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "-q",
            "-p",
            "pramaan-ffi",
            "--features",
            "bindgen",
            "--lib",
            "--bin",
            "uniffi-bindgen",
        ])
        .status()
        .expect("cargo build");
    assert!(status.success(), "building the cdylib failed");
    let lib = target_dir().join("debug").join("libpramaan_ffi.so");
    assert!(lib.exists(), "{} missing", lib.display());
    lib
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Generates bindings for `language` from the built cdylib into `out_dir` (run
/// [`build_cdylib`] first: it builds the generator too).
pub fn generate_bindings(lib: &Path, language: &str, out_dir: &Path) {
    let bindgen = target_dir().join("debug").join("uniffi-bindgen");
    let out = Command::new(&bindgen)
        .current_dir(workspace_root())
        .args(["generate", "--library"])
        .arg(lib)
        .args(["--language", language, "--no-format", "--out-dir"])
        .arg(out_dir)
        .output()
        .expect("uniffi-bindgen runs");
    assert!(
        out.status.success(),
        "uniffi-bindgen {language} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Finds kotlinc: `$KOTLINC`, PATH, `$KOTLIN_HOME/bin`, or the newest
/// `~/.cache/pramaan/*/bin/kotlinc`.
pub fn kotlinc() -> Option<PathBuf> {
    if let Some(p) = find_tool("KOTLINC", "kotlinc") {
        return Some(p);
    }
    if let Some(home) = std::env::var_os("KOTLIN_HOME") {
        let p = PathBuf::from(home).join("bin/kotlinc");
        if p.exists() {
            return Some(p);
        }
    }
    let cache = PathBuf::from(std::env::var_os("HOME")?).join(".cache/pramaan");
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/kotlinc"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

/// The Kotlin distribution's `lib/` (kotlin-stdlib.jar, kotlin-test.jar) beside `kotlinc`.
pub fn kotlin_lib(kotlinc: &Path) -> PathBuf {
    kotlinc
        .parent()
        .and_then(|b| b.parent())
        .expect("kotlin home")
        .join("lib")
}

/// The JNA jar: `$JNA_JAR`, default `/usr/share/java/jna.jar` (Debian's libjna-java).
pub fn jna_jar() -> PathBuf {
    std::env::var_os("JNA_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java/jna.jar"))
}

/// Kotlin on the JVM against the host-built core, as the Kotlin bindings tests use it:
/// kotlinc, java and JNA, the core built as a cdylib and its Kotlin bindings generated.
pub struct KotlinJvm {
    kotlinc: PathBuf,
    java: PathBuf,
    jna: PathBuf,
    kotlin_lib: PathBuf,
    core_lib: PathBuf,
    generated: PathBuf,
}

impl KotlinJvm {
    /// Finds the tools, builds the cdylib and generates the bindings into `work/gen`.
    /// `None` when a tool is missing (reported by [`require_tool`]: a failure under CI).
    pub fn setup(work: &Path) -> Option<Self> {
        let kotlinc = kotlinc();
        let java = find_tool("JAVA", "java");
        let jna = jna_jar();
        if !require_tool("kotlinc", kotlinc.is_some())
            || !require_tool("java", java.is_some())
            || !require_tool("JNA (/usr/share/java/jna.jar)", jna.exists())
        {
            return None;
        }
        let (kotlinc, java) = (kotlinc?, java?);
        let core_lib = build_cdylib();
        let gen_dir = work.join("gen");
        generate_bindings(&core_lib, "kotlin", &gen_dir);
        let generated = gen_dir.join("gov/gujarat/pramaan/pramaan_core.kt");
        assert!(generated.exists(), "no {}", generated.display());
        Some(Self {
            kotlin_lib: kotlin_lib(&kotlinc),
            kotlinc,
            java,
            jna,
            core_lib,
            generated,
        })
    }

    /// Compiles the generated bindings with `sources` into `jar` in one kotlinc call;
    /// panics with kotlinc's errors when it fails.
    pub fn compile(&self, sources: &[PathBuf], jar: &Path) {
        let out = Command::new(&self.kotlinc)
            .arg(&self.generated)
            .args(sources)
            .arg("-cp")
            .arg(format!(
                "{}:{}",
                self.jna.display(),
                self.kotlin_lib.join("kotlin-test.jar").display()
            ))
            .arg("-d")
            .arg(jar)
            .output()
            .expect("kotlinc runs");
        assert!(
            out.status.success(),
            "kotlinc failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `main_class` from `jar` with `args`, loading the host-built core through JNA.
    pub fn run(&self, jar: &Path, main_class: &str, args: &[&std::ffi::OsStr]) -> Output {
        let lib_dir = self.core_lib.parent().expect("lib dir");
        Command::new(&self.java)
            .arg(format!("-Djna.library.path={}", lib_dir.display()))
            .arg("-cp")
            .arg(format!(
                "{}:{}:{}:{}",
                jar.display(),
                self.jna.display(),
                self.kotlin_lib.join("kotlin-stdlib.jar").display(),
                self.kotlin_lib.join("kotlin-test.jar").display()
            ))
            .arg(main_class)
            .args(args)
            .output()
            .expect("java runs")
    }
}

/// Finds an executable: `$ENV_VAR`, then PATH.
pub fn find_tool(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var).map(PathBuf::from)
        && p.exists()
    {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Checks that a bindings program exited well and printed `marker`, and returns the
/// device id it printed as `device=<uuid>` (the Kotlin and Python tests print both).
pub fn bindings_device_id(out: &Output, marker: &str) -> uuid::Uuid {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(marker),
        "bindings program failed (no {marker}):\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .split("device=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("device id printed")
}
