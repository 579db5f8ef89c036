//! A small driver of headless Chromium over the DevTools protocol, for the dashboard's
//! browser tests.
//!
//! Why this and not WebDriver: this machine (and CI) has Debian's Chromium but no
//! chromedriver or Selenium, and the dashboard tests need more than a dumped DOM: typing
//! the token into the sign-in form, clicking, the back button, a phone-sized viewport and
//! a download. Chromium serves all of that itself when started with
//! `--remote-debugging-port=0`: it prints `DevTools listening on ws://...` on stderr, and
//! commands are JSON messages over that WebSocket (`tungstenite`, plain `ws://` on
//! loopback). The driver opens one page target, attaches to it in flat mode (one socket,
//! commands carry the `sessionId`), and offers what the tests use: navigate, evaluate,
//! wait for a condition, type, click, set the viewport, allow downloads into a folder.
//! Every wait is bounded, so a broken page fails the test instead of hanging it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long one wait (start, a command's answer, a condition) may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of driving the browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Chromium did not start or did not say where it listens.
    #[error("starting Chromium: {0}")]
    Launch(String),
    /// The WebSocket or the protocol failed.
    #[error("DevTools protocol: {0}")]
    Protocol(String),
    /// A script threw in the page.
    #[error("script failed: {0}")]
    Script(String),
    /// A condition did not hold in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

/// The Chromium binary of this machine, if there is one.
pub fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The Chromium binary, or `None` after printing `SKIP <test>` when there is none; under
/// CI (`CI=true`) a missing Chromium fails the test instead.
pub fn chromium_or_skip(test: &str) -> Option<&'static str> {
    let found = chromium();
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: Chromium is required under CI (apt-get install chromium)");
        }
        eprintln!("SKIP {test}: no Chromium");
    }
    found
}

/// A headless Chromium with one page, driven over the DevTools protocol. Killed on drop.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `binary` headless with a fresh profile and opens a blank page of
    /// `width` x `height` CSS pixels.
    pub fn launch(binary: &str, width: u32, height: u32) -> Result<Self, BrowserError> {
        let profile = tempfile::tempdir().map_err(|e| BrowserError::Launch(e.to_string()))?;
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--ignore-certificate-errors",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BrowserError::Launch(format!("{binary}: {e}")))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| BrowserError::Launch("no stderr".into()))?;
        // Read stderr for the listening line, then keep draining it so that Chromium
        // never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                    sent = true;
                }
            }
        });
        let url = match rx.recv_timeout(TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BrowserError::Launch(
                    "no \"DevTools listening on\" line on stderr".into(),
                ));
            }
        };
        let (ws, _) = tungstenite::connect(url.as_str())
            .map_err(|e| BrowserError::Protocol(format!("connect {url}: {e}")))?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(TIMEOUT))
                .map_err(|e| BrowserError::Protocol(e.to_string()))?;
        }
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let target =
            browser.browser_command("Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].clone();
        let attached = browser.browser_command(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        browser.session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol(format!("attach: {attached}")))?
            .to_string();
        browser.command("Page.enable", json!({}))?;
        browser.command("Runtime.enable", json!({}))?;
        browser.viewport(width, height, false)?;
        Ok(browser)
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, BrowserError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if session {
            msg["sessionId"] = Value::String(self.session.clone());
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .map_err(|e| BrowserError::Protocol(format!("{method}: {e}")))?;
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let reply = self
                .ws
                .read()
                .map_err(|e| BrowserError::Protocol(format!("{method}: {e}")))?;
            let Message::Text(text) = reply else { continue };
            let v: Value = serde_json::from_str(text.as_str())
                .map_err(|e| BrowserError::Protocol(format!("{method}: {e}")))?;
            if v["id"].as_u64() != Some(id) {
                continue; // an event, or the answer to nothing we wait for
            }
            if let Some(err) = v.get("error") {
                return Err(BrowserError::Protocol(format!("{method}: {err}")));
            }
            return Ok(v["result"].clone());
        }
        Err(BrowserError::Timeout(format!("the answer to {method}")))
    }

    /// A command to the page (`Page.*`, `Runtime.*`, `Emulation.*`, `Input.*`).
    pub fn command(&mut self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.send(method, params, true)
    }

    /// A command to the browser itself (`Target.*`, `Browser.*`).
    pub fn browser_command(&mut self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.send(method, params, false)
    }

    /// Sets the viewport to `width` x `height` CSS pixels (`mobile`: as a phone does,
    /// with the meta viewport honoured).
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) -> Result<(), BrowserError> {
        self.command(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )?;
        Ok(())
    }

    /// Loads `url` and waits until the new document has loaded.
    pub fn navigate(&mut self, url: &str) -> Result<(), BrowserError> {
        self.mark_document()?;
        self.command("Page.navigate", json!({"url": url}))?;
        self.wait_for_new_document()
    }

    /// Reloads the page and waits until the new document has loaded.
    pub fn reload(&mut self) -> Result<(), BrowserError> {
        self.mark_document()?;
        self.command("Page.reload", json!({}))?;
        self.wait_for_new_document()
    }

    // The old document carries a mark the new one lacks, so that a wait cannot be
    // satisfied by the page that is being left.
    fn mark_document(&mut self) -> Result<(), BrowserError> {
        self.eval("window.__pramaanOldDocument = true")?;
        Ok(())
    }

    fn wait_for_new_document(&mut self) -> Result<(), BrowserError> {
        self.wait_for(
            "window.__pramaanOldDocument === undefined && document.readyState === 'complete'",
            "the new page to load",
        )?;
        Ok(())
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Result<Value, BrowserError> {
        let r = self.command(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or_else(|| ex["text"].as_str())
                .unwrap_or("exception");
            return Err(BrowserError::Script(format!("{expression}: {text}")));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Evaluates `expression` until it is truthy (a script error counts as not yet),
    /// and returns that value.
    pub fn wait_for(&mut self, expression: &str, what: &str) -> Result<Value, BrowserError> {
        let deadline = Instant::now() + TIMEOUT;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            match self.eval(expression) {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => last = v,
                Err(BrowserError::Script(e)) => last = Value::String(e),
                Err(e) => return Err(e),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(BrowserError::Timeout(format!(
            "{what} ({expression} was {last})"
        )))
    }

    /// The text of the first element matching `selector` (`None`: no such element).
    pub fn text(&mut self, selector: &str) -> Result<Option<String>, BrowserError> {
        let v = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.textContent : null; }})()",
            js_string(selector)
        ))?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Whether the first element matching `selector` is rendered with a size (not
    /// hidden, not `display: none`, not in a hidden ancestor).
    pub fn visible(&mut self, selector: &str) -> Result<bool, BrowserError> {
        let v = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; \
             const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }})()",
            js_string(selector)
        ))?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Clicks the first element matching `selector` (as a user's click: the element's
    /// `click()`); an error if there is none.
    pub fn click(&mut self, selector: &str) -> Result<(), BrowserError> {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; \
             e.click(); return true; }})()",
            js_string(selector)
        ))?;
        if found.as_bool() == Some(true) {
            Ok(())
        } else {
            Err(BrowserError::Script(format!(
                "no element {selector} to click"
            )))
        }
    }

    /// Focuses the field `selector`, clears it and types `text` into it (keyboard input
    /// events, as a person typing or pasting).
    pub fn type_into(&mut self, selector: &str, text: &str) -> Result<(), BrowserError> {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; \
             e.focus(); e.value = ''; return document.activeElement === e; }})()",
            js_string(selector)
        ))?;
        if found.as_bool() != Some(true) {
            return Err(BrowserError::Script(format!(
                "no field {selector} to type into"
            )));
        }
        self.command("Input.insertText", json!({"text": text}))?;
        Ok(())
    }

    /// Lets the page download files into `dir` (as a user saving them).
    pub fn allow_downloads(&mut self, dir: &Path) -> Result<(), BrowserError> {
        self.browser_command(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": dir.display().to_string()}),
        )?;
        Ok(())
    }

    /// A PNG of what the page shows now (for looking at a failure).
    pub fn screenshot(&mut self) -> Result<Vec<u8>, BrowserError> {
        use base64::Engine as _;
        let r = self.command(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        )?;
        let data = r["data"].as_str().unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Protocol(format!("screenshot: {e}")))
    }

    /// Goes back one entry in the page's history.
    pub fn back(&mut self) -> Result<(), BrowserError> {
        self.eval("history.back()")?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `value` as a JavaScript string literal (JSON's string syntax is valid JavaScript).
pub fn js_string(value: &str) -> String {
    Value::String(value.to_string()).to_string()
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Waits until `dir` holds one finished download (no `.crdownload` part file) and returns
/// its name and contents.
pub fn wait_for_download(dir: &Path) -> Result<(String, String), BrowserError> {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        let names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| BrowserError::Protocol(e.to_string()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        if let [name] = names.as_slice()
            && !name.ends_with(".crdownload")
            && let Ok(text) = std::fs::read_to_string(dir.join(name))
        {
            return Ok((name.clone(), text));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(BrowserError::Timeout(format!(
        "a download in {}",
        dir.display()
    )))
}
