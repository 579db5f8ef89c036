//! Shared harness of Pramaan's end-to-end and bindings tests.
//!
//! Why a library: every test needs the same steps of department IT before a device can do
//! anything (a real server over TLS, an admin token, the registry, the policy, an
//! enrollment token), and they go through the public HTTP API exactly as a real IT client
//! would, so these tests also exercise design section 8.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pramaan_core::transport::{HttpsClient, Options, Trust};
use pramaan_server::server::{self, Running};

/// Registry rows used by the tests: two entitled GAD officers.
pub const OFFICERS_CSV: &str = "officer_id,name,designation,department,email,mobile,entitled\n\
GAD-001,Asha Shah,Deputy Secretary,GAD,a.shah@gujarat.gov.in,+919800000001,true\n\
GAD-002,Ravi Patel,Under Secretary,GAD,r.patel@gujarat.gov.in,+919800000002,true\n";

/// GAD's policy: government email domains, WhatsApp, one group.
pub const POLICY_TOML: &str = r#"
department = "GAD"
name = "General Administration Department"
check_in_hours = 24
email_domains = ["gujarat.gov.in", "nic.in"]
[[platforms]]
name = "WhatsApp"
android_package = "com.whatsapp"
android_signers = ["3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44"]
ios_bundle = "net.whatsapp.WhatsApp"
ios_url_scheme = "whatsapp"
[[groups]]
platform = "WhatsApp"
id = "gad-officers"
name = "GAD officers coordination"
"#;

/// Facts of a compliant Android phone of GAD-001.
pub const COMPLIANT_FACTS: &str = r#"
platform = "android"
model = "Pixel 8"
os_version = "15"
patch_level = "2026-10-05"
screen_lock = true
emails = ["a.shah@gujarat.gov.in"]
[[apps]]
id = "com.whatsapp"
signer = "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44"
version = "2.26.1"
[[groups]]
platform = "WhatsApp"
group = "gad-officers"
member = true
handle = "+919800000001"
"#;

/// A running test server with an admin client.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub running: Option<Running>,
    pub addr: SocketAddr,
    pub admin_token: String,
    pub pin: [u8; 32],
}

impl TestServer {
    /// `admin init` in a temporary directory and start on a free loopback port.
    pub fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let init = server::admin_init(dir.path(), "localhost").expect("admin init");
        let running =
            server::start(dir.path(), "127.0.0.1:0".parse().expect("addr")).expect("server starts");
        Self {
            addr: running.addr,
            pin: running.pin,
            running: Some(running),
            admin_token: init.admin_token,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (the port closes: devices see connection refused).
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown();
        }
    }

    /// Starts it again on the same port, with the same data.
    pub fn restart(&mut self) {
        self.stop();
        let mut last = None;
        for _ in 0..50 {
            match server::start(self.dir.path(), self.addr) {
                Ok(r) => {
                    self.running = Some(r);
                    return;
                }
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("server does not restart on {}: {last:?}", self.addr);
    }

    pub fn admin(&self) -> HttpsClient {
        HttpsClient::new(&self.url(), Trust::Pin(self.pin), Options::default())
            .expect("client")
            .with_bearer(self.admin_token.clone())
    }

    fn ok(&self, what: &str, resp: pramaan_core::transport::Response) -> serde_json::Value {
        let text = String::from_utf8_lossy(&resp.body).to_string();
        assert!(resp.is_success(), "{what}: HTTP {} {text}", resp.status);
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    /// Officers, GAD's policy: what IT does once.
    pub fn prepare_gad(&self) {
        let admin = self.admin();
        let r = admin
            .post("/v1/officers/import", "text/csv", OFFICERS_CSV.as_bytes())
            .expect("import");
        self.ok("officers import", r);
        let r = admin
            .put(
                "/v1/departments/GAD/policy",
                "application/toml",
                POLICY_TOML.as_bytes(),
            )
            .expect("policy");
        self.ok("policy set", r);
    }

    /// A fresh enrollment URI for `officer_id`.
    pub fn enrollment_uri(&self, officer_id: &str) -> String {
        let body = serde_json::json!({ "officer_id": officer_id }).to_string();
        let r = self
            .admin()
            .post("/v1/enrollment-tokens", "application/json", body.as_bytes())
            .expect("enrollment token");
        let v = self.ok("enrollment token", r);
        v["uri"].as_str().expect("uri in answer").to_string()
    }

    /// `GET /v1/compliance?department=D` as JSON.
    pub fn compliance(&self, department: &str) -> serde_json::Value {
        let r = self
            .admin()
            .get(&format!("/v1/compliance?department={department}"))
            .expect("compliance");
        self.ok("compliance", r)
    }

    /// `GET /v1/officers/{id}` as JSON.
    pub fn officer(&self, officer_id: &str) -> serde_json::Value {
        let r = self
            .admin()
            .get(&format!("/v1/officers/{officer_id}"))
            .expect("officer");
        self.ok("officer", r)
    }

    /// Requests the server has answered, all routes but `/metrics` (from `GET /metrics`).
    pub fn request_count(&self) -> u64 {
        let r = self.admin().get("/metrics").expect("metrics");
        let text = String::from_utf8_lossy(&r.body).to_string();
        text.lines()
            .filter(|l| l.starts_with("pramaan_requests_total{") && !l.contains("/metrics"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// Accepted attestations of a device as stored, in acceptance order: (seq, claims CBOR).
    pub fn stored_attestations(&self, device_id: &uuid::Uuid) -> Vec<(u64, Vec<u8>)> {
        let db = server::Paths::new(self.dir.path()).db();
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open db");
        let mut stmt = conn
            .prepare("SELECT seq, claims FROM attestations WHERE device_id = ?1 ORDER BY rowid")
            .expect("prepare");
        let rows = stmt
            .query_map([device_id.as_bytes().to_vec()], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
            })
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Fast transport options for tests (no long retries when the server is down).
pub fn quick_options() -> Options {
    Options {
        attempts: 1,
        connect_timeout: std::time::Duration::from_secs(2),
        io_timeout: std::time::Duration::from_secs(10),
        ..Options::default()
    }
}

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
