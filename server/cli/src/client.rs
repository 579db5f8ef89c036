//! The one place where a client command becomes an authenticated HTTPS client.
//!
//! Why one place: every command that talks to a server (`officers`, `policy`, `roster`,
//! `enroll-token`, `compliance`, `devices`) takes the same `--server`, `--token`, `--ca` /
//! `--pin` options with the same environment fallbacks, trusts the server the same way and
//! must turn a refusal into the same kind of readable line. Doing that once keeps the
//! commands to their own job and keeps the bearer token out of every `Debug` output and
//! every error message (the token is a secret: it is never printed, not even in part).
//!
//! Flags override the environment: `--server` and `--token` over `PRAMAAN_SERVER` and
//! `PRAMAAN_TOKEN` (clap), and either of `--ca` / `--pin` over both `PRAMAAN_CA` and
//! `PRAMAAN_PIN`, so `--ca FILE` in a shell that exports a pin uses the file instead of
//! failing with "not both" ([`ServerArgs::trust`]).
//!
//! A non-2xx answer with the API's JSON error body `{error, message}` becomes
//! `server refused: 403 forbidden: not allowed to read department GAD`; a 401 adds a hint
//! about the token, since that is nearly always the cause.

use std::path::{Path, PathBuf};

use clap::Args;
use pramaan_core::text::for_terminal;
use pramaan_core::transport::{HttpsClient, Options, Response, TransportError, Trust};
use serde_json::Value;

use super::CliError;

/// How to reach and trust a Pramaan server, shared by every client command.
#[derive(Clone, Args)]
pub struct ServerArgs {
    /// Server URL, e.g. https://localhost:8443 (as printed by `pramaan serve` or `demo`).
    #[arg(long, env = "PRAMAAN_SERVER", value_name = "URL")]
    pub server: String,
    /// Bearer token of an it, auditor or admin user (from `pramaan admin token`). Prefer
    /// the environment variable: a token on the command line shows up in `ps`.
    #[arg(
        long,
        env = "PRAMAAN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub token: String,
    /// Trust the server's certificate by this PEM file (e.g. DATA/tls/cert.pem written by
    /// `pramaan admin init`). Give this or --pin, or set PRAMAAN_CA or PRAMAAN_PIN; either
    /// flag overrides both variables.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Trust the server by the SHA-256 of its public key (SPKI pin, base64url, as printed
    /// by `pramaan admin init` and inside enrollment URIs). Give this or --ca.
    #[arg(long, value_name = "B64URL", allow_hyphen_values = true)]
    pub pin: Option<String>,
}

impl std::fmt::Debug for ServerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bearer token is a secret: never printed.
        f.debug_struct("ServerArgs")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .field("ca", &self.ca)
            .field("pin", &self.pin)
            .finish()
    }
}

impl ServerArgs {
    /// How to trust the server: exactly one of `--ca` and `--pin`; without either flag,
    /// exactly one of `PRAMAAN_CA` and `PRAMAAN_PIN`.
    pub fn trust(&self) -> Result<Trust, CliError> {
        self.trust_with_env(|name| std::env::var(name).ok())
    }

    /// [`ServerArgs::trust`] with the environment read through `env`. A flag wins: given
    /// `--ca` or `--pin`, neither variable is read.
    pub fn trust_with_env(&self, env: impl Fn(&str) -> Option<String>) -> Result<Trust, CliError> {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (ca, pin) = match (&self.ca, &self.pin) {
            (None, None) => (set("PRAMAAN_CA").map(PathBuf::from), set("PRAMAAN_PIN")),
            (ca, pin) => (ca.clone(), pin.clone()),
        };
        match (&ca, &pin) {
            (Some(_), Some(_)) if self.ca.is_none() => Err(CliError::new(
                "PRAMAAN_CA and PRAMAAN_PIN are both set: unset one, or give --ca or --pin \
                 (a flag overrides both)",
            )),
            (Some(_), Some(_)) => Err(CliError::new("give either --ca or --pin, not both")),
            (None, None) => Err(CliError::new(
                "no way to trust the server: give --ca FILE (e.g. DATA/tls/cert.pem) or \
                 --pin B64URL (printed by `pramaan admin init`), or set PRAMAAN_CA / PRAMAAN_PIN",
            )),
            (Some(path), None) => {
                let pem = std::fs::read(path).map_err(|e| {
                    CliError::new(format!("cannot read CA file {}: {e}", path.display()))
                })?;
                Ok(Trust::CaPem(pem))
            }
            (None, Some(pin)) => Trust::from_pin_b64url(pin)
                .map_err(|e| CliError::new(format!("--pin {pin:?}: {e}"))),
        }
    }

    /// Connects lazily: builds the client, nothing is sent yet.
    pub fn client(&self) -> Result<Client, CliError> {
        if self.token.trim().is_empty() {
            return Err(CliError::new(
                "the bearer token is empty: give --token or set PRAMAAN_TOKEN",
            ));
        }
        Client::new(&self.server, self.trust()?, &self.token)
    }

    /// [`ServerArgs::client`] waiting up to `io_timeout` for each read and write (a large
    /// upload's answer comes later than the default 30 s allows).
    pub fn client_waiting(&self, io_timeout: std::time::Duration) -> Result<Client, CliError> {
        let mut client = self.client()?;
        client.http = HttpsClient::new(
            &self.server,
            self.trust()?,
            Options {
                io_timeout,
                ..Options::default()
            },
        )
        .map_err(|e| CliError::new(e.to_string()))?
        .with_bearer(self.token.trim());
        Ok(client)
    }
}

/// An authenticated client of the IT / auditor / admin API.
#[derive(Debug)]
pub struct Client {
    http: HttpsClient,
    server: String,
}

impl Client {
    /// A client for `server` trusting it by `trust`, sending `token` as bearer.
    pub fn new(server: &str, trust: Trust, token: &str) -> Result<Self, CliError> {
        let http = HttpsClient::new(server, trust, Options::default())
            .map_err(|e| CliError::new(e.to_string()))?
            .with_bearer(token.trim());
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_string(),
        })
    }

    /// The server URL as given (without a trailing slash).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// POSTs `body` as JSON and reads the answer as `R` (a `pramaan_core::api` type).
    pub fn post_typed<B: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, CliError> {
        typed(path, self.post_json(path, body)?)
    }

    /// GET, answer as JSON.
    pub fn get_json(&self, path: &str) -> Result<Value, CliError> {
        let resp = self.http.get(path).map_err(|e| self.unreachable(e))?;
        json_body(path, &check(resp)?)
    }

    /// GET, answer as text (CSV, checkpoints).
    pub fn get_text(&self, path: &str) -> Result<String, CliError> {
        let resp = self.http.get(path).map_err(|e| self.unreachable(e))?;
        let resp = check(resp)?;
        String::from_utf8(resp.body)
            .map_err(|_| CliError::new(format!("the answer to GET {path} is not UTF-8 text")))
    }

    /// POST a JSON body (any serializable value, e.g. a `pramaan_core::api` type), answer
    /// as JSON.
    pub fn post_json<B: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, CliError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| CliError::new(format!("cannot encode the request: {e}")))?;
        self.send("POST", path, "application/json", &bytes)
    }

    /// Sends `body` of `content_type` with `method` (POST or PUT); answer as JSON (an
    /// empty 2xx answer is `null`).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Value, CliError> {
        let resp = self
            .http
            .request(method, path, Some((content_type, body)))
            .map_err(|e| self.unreachable(e))?;
        json_body(path, &check(resp)?)
    }

    /// Sends `body` once and hands back the answer whatever its status, for commands that
    /// read an error answer's body (the import's row errors) or a timeout themselves.
    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Response, TransportError> {
        self.http.request(method, path, Some((content_type, body)))
    }

    /// The error for a transport failure talking to this server.
    pub fn unreachable(&self, e: TransportError) -> CliError {
        CliError::new(format!("cannot talk to {}: {e}", self.server))
    }
}

/// Passes a 2xx answer through; turns anything else into the server's reason.
pub fn check(resp: Response) -> Result<Response, CliError> {
    if resp.is_success() {
        return Ok(resp);
    }
    Err(CliError::new(refusal(&resp)))
}

/// `server refused: 403 forbidden: <message>` from an error answer.
pub fn refusal(resp: &Response) -> String {
    let parsed: Option<(String, String)> = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| {
            let code = v.get("error")?.as_str()?.to_string();
            let message = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            Some((code, message))
        })
        // The server's words are escaped whole (a newline included): they come from the
        // other side of the connection and may quote what a device sent.
        .map(|(code, message)| {
            (
                for_terminal(&code).into_owned(),
                for_terminal(&message).into_owned(),
            )
        });
    let mut line = match parsed {
        Some((code, message)) if message.is_empty() => {
            format!("server refused: {} {code}", resp.status)
        }
        Some((code, message)) => format!("server refused: {} {code}: {message}", resp.status),
        None => {
            let text = String::from_utf8_lossy(&resp.body);
            let text: String = text.trim().chars().take(200).collect();
            let text = for_terminal(&text);
            let reason = http::StatusCode::from_u16(resp.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_lowercase();
            if text.is_empty() {
                format!("server refused: {} {reason}", resp.status)
            } else {
                format!("server refused: {} {reason}: {text}", resp.status)
            }
        }
    };
    if resp.status == 401 {
        line.push_str(
            " (check --token / PRAMAAN_TOKEN: it must be a token from `pramaan admin token`)",
        );
    }
    line
}

fn json_body(path: &str, resp: &Response) -> Result<Value, CliError> {
    if resp.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&resp.body)
        .map_err(|e| CliError::new(format!("the answer to {path} is not JSON: {e}")))
}

/// Percent-encodes one path segment or query value (everything but RFC 3986 unreserved).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads a file a command sends, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))
}

/// Reads a UTF-8 text file a command sends (a byte-order mark is dropped).
pub fn read_text(path: &Path) -> Result<String, CliError> {
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::new(format!("{} is not UTF-8 text", path.display())))?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

/// Reads a JSON answer of `path` as the API type `R`: an answer of another shape is a
/// clear error, never a guess.
pub fn typed<R: serde::de::DeserializeOwned>(path: &str, v: Value) -> Result<R, CliError> {
    serde_json::from_value(v)
        .map_err(|e| CliError::new(format!("unexpected answer from {path}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_pins_may_start_with_a_hyphen() {
        // base64url values start with '-' one time in 64: clap must not take them for flags.
        #[derive(Debug, clap::Parser)]
        struct T {
            #[command(flatten)]
            s: ServerArgs,
        }
        let t = <T as clap::Parser>::try_parse_from([
            "t",
            "--server",
            "https://h",
            "--token",
            "-abc",
            "--pin",
            "-pin",
        ])
        .expect("parses");
        assert_eq!(
            (t.s.token.as_str(), t.s.pin.as_deref()),
            ("-abc", Some("-pin"))
        );
    }

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: Some("application/json".into()),
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn refusal_names_status_code_and_message() {
        let r = resp(
            403,
            r#"{"error":"forbidden","message":"not allowed to read department GAD"}"#,
        );
        assert_eq!(
            refusal(&r),
            "server refused: 403 forbidden: not allowed to read department GAD"
        );
    }

    #[test]
    fn refusal_of_401_hints_at_the_token_and_non_json_bodies_are_shown() {
        let r = resp(
            401,
            r#"{"error":"unauthorized","message":"unknown or malformed bearer token"}"#,
        );
        let line = refusal(&r);
        assert!(
            line.starts_with("server refused: 401 unauthorized: unknown"),
            "{line}"
        );
        assert!(line.contains("PRAMAAN_TOKEN"), "{line}");
        let r = resp(502, "bad gateway from proxy");
        assert_eq!(
            refusal(&r),
            "server refused: 502 bad gateway: bad gateway from proxy"
        );
        let r = resp(500, "");
        assert_eq!(refusal(&r), "server refused: 500 internal server error");
    }

    #[test]
    fn refusal_escapes_what_the_server_sent() {
        let r = resp(
            400,
            r#"{"error":"malformed\u001b[2J","message":"bad\nGAD-009 compliant \u202e"}"#,
        );
        let line = refusal(&r);
        assert_eq!(
            line,
            "server refused: 400 malformed\\u{001B}[2J: bad\\u{000A}GAD-009 compliant \\u{202E}"
        );
        let r = resp(502, "proxy \u{1b}[31merror");
        assert_eq!(
            refusal(&r),
            "server refused: 502 bad gateway: proxy \\u{001B}[31merror"
        );
    }

    #[test]
    fn success_passes_and_empty_body_is_null() {
        let r = check(resp(200, "")).map_err(|e| e.to_string());
        assert!(r.is_ok());
        let v = json_body("/x", &resp(200, "  ")).map_err(|e| e.to_string());
        assert_eq!(v, Ok(Value::Null));
        assert!(json_body("/x", &resp(200, "<html>")).is_err());
    }

    #[test]
    fn encode_keeps_unreserved_only() {
        assert_eq!(encode("GAD"), "GAD");
        assert_eq!(encode("a b/c?d&e"), "a%20b%2Fc%3Fd%26e");
        assert_eq!(encode("gad-officers_1.x~"), "gad-officers_1.x~");
    }

    fn args(ca: Option<&str>, pin: Option<&str>) -> ServerArgs {
        ServerArgs {
            server: "https://localhost:8443".into(),
            token: "s3cret-token-value".into(),
            ca: ca.map(PathBuf::from),
            pin: pin.map(str::to_string),
        }
    }

    #[test]
    fn trust_needs_exactly_one_of_ca_and_pin() {
        let pin = pramaan_core::encoding::b64url(&[7u8; 32]);
        assert!(
            matches!(args(None, Some(&pin)).trust_with_env(|_| None), Ok(Trust::Pin(p)) if p == [7u8; 32])
        );
        let both = args(Some("/x.pem"), Some(&pin))
            .trust_with_env(|_| None)
            .err()
            .map(|e| e.to_string());
        assert!(both.is_some_and(|e| e.contains("not both")));
        let none = args(None, None)
            .trust_with_env(|_| None)
            .err()
            .map(|e| e.to_string());
        assert!(none.is_some_and(|e| e.contains("--ca") && e.contains("--pin")));
        let bad = args(None, Some("short"))
            .trust_with_env(|_| None)
            .err()
            .map(|e| e.to_string());
        assert!(bad.is_some_and(|e| e.contains("--pin")));
        let missing = args(Some("/nonexistent/ca.pem"), None)
            .trust_with_env(|_| None)
            .err()
            .map(|e| e.to_string());
        assert!(missing.is_some_and(|e| e.contains("/nonexistent/ca.pem")));
    }

    #[test]
    fn a_flag_overrides_the_environment() {
        let pin = pramaan_core::encoding::b64url(&[7u8; 32]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "PEM").unwrap_or_else(|e| panic!("{e}"));
        let ca_s = ca.to_str().unwrap_or_default().to_string();
        // PRAMAAN_PIN set in the shell, --ca on the command line: the CA file is used.
        let env_pin = |name: &str| (name == "PRAMAAN_PIN").then(|| pin.clone());
        assert!(matches!(
            args(Some(&ca_s), None).trust_with_env(env_pin),
            Ok(Trust::CaPem(p)) if p == b"PEM"
        ));
        // PRAMAAN_CA set, --pin given: the pin is used (the CA file is not even read).
        let env_ca = |name: &str| (name == "PRAMAAN_CA").then(|| "/nonexistent.pem".to_string());
        assert!(matches!(
            args(None, Some(&pin)).trust_with_env(env_ca),
            Ok(Trust::Pin(p)) if p == [7u8; 32]
        ));
        // Without flags the environment is read; both variables set is an error that
        // says how to choose.
        assert!(matches!(
            args(None, None).trust_with_env(env_pin),
            Ok(Trust::Pin(_))
        ));
        let both = |name: &str| match name {
            "PRAMAAN_CA" => Some(ca_s.clone()),
            "PRAMAAN_PIN" => Some(pin.clone()),
            _ => None,
        };
        let err = args(None, None)
            .trust_with_env(both)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("both set") && e.contains("flag")));
        // An empty variable counts as unset.
        let empty = |name: &str| match name {
            "PRAMAAN_CA" => Some(String::new()),
            "PRAMAAN_PIN" => Some(pin.clone()),
            _ => None,
        };
        assert!(matches!(
            args(None, None).trust_with_env(empty),
            Ok(Trust::Pin(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let a = args(None, None);
        let shown = format!("{a:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
