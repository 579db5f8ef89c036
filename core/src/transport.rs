//! A small blocking HTTPS client for the agent and the `pramaan` command.
//!
//! Why by hand: the phone must not carry a tokio runtime, and the agent trusts its server
//! by pinning the SHA-256 of its SubjectPublicKeyInfo (design section 4), which needs a
//! custom rustls verifier that the common blocking clients do not let us plug in. What is
//! here is the least HTTP/1.1 that Pramaan speaks: one request at a time over one kept-alive
//! connection, `Content-Length` or chunked bodies, a response size cap, timeouts, and
//! bounded retries with backoff for connection failures. A non-idempotent request (POST)
//! is sent once: it is retried only when no connection could be made (nothing was sent),
//! never after a timeout, where the server may still be working on it (a registry import
//! re-posted three times while the server went on importing). rustls uses the ring provider
//! only; the certificate check happens in the handshake, so a wrong pin is refused before
//! a single byte of the request is sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Transport failures.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server URL does not parse or is not `https`.
    #[error("invalid server URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The pin or CA file is unusable; says why.
    #[error("invalid trust setting: {0}")]
    BadTrust(String),
    /// No TCP connection (DNS, refused, timeout); transient, retried.
    #[error("cannot reach {addr}: {source}")]
    Connect {
        /// The `host:port` tried.
        addr: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed for another reason than the pin.
    #[error("TLS with {host} failed: {detail}")]
    Tls {
        /// The server's host.
        host: String,
        /// rustls' message.
        detail: String,
    },
    /// The server's certificate key is not the pinned one; refused before any request byte.
    #[error("the server's key does not match the pinned key (expected SPKI SHA-256 {expected})")]
    PinMismatch {
        /// The pinned SPKI SHA-256, base64url.
        expected: String,
    },
    /// Reading or writing the connection failed; transient.
    #[error("I/O with the server failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server's answer is not HTTP/1.1 as this client reads it; says why.
    #[error("malformed HTTP response: {0}")]
    BadResponse(String),
    /// The response body is over [`Options::max_response`]; holds the limit in bytes.
    #[error("response body over the {0}-byte limit")]
    TooLarge(usize),
    /// An extra request header's name or value cannot be sent (empty name, or a
    /// character that would end the header line); holds the name.
    #[error("request header {0:?} cannot be sent: bad name or value")]
    BadHeader(String),
}

impl TransportError {
    /// Whether retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, TransportError::Connect { .. } | TransportError::Io(_))
    }

    /// Whether the server did not answer within the I/O timeout: the request may have
    /// arrived and may still be processed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TransportError::Io(e) if matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ))
    }
}

/// Whether `method` may be sent again after a failure without changing its effect
/// (RFC 9110 section 9.2.2). POST is not.
pub fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS")
}

/// How the client decides to trust the server.
#[derive(Clone, PartialEq, Eq)]
pub enum Trust {
    /// SHA-256 of the server certificate's SubjectPublicKeyInfo.
    Pin([u8; 32]),
    /// Any of these pins: an agent during a TLS key change trusts the current key and
    /// the next one its server announced in a signed answer.
    Pins(Vec<[u8; 32]>),
    /// PEM certificates to use as trust anchors (webpki path validation, host name checked).
    CaPem(Vec<u8>),
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trust::Pin(p) => write!(f, "Pin({})", b64url(p)),
            Trust::Pins(ps) => {
                let pins: Vec<String> = ps.iter().map(|p| b64url(p)).collect();
                write!(f, "Pins({})", pins.join(", "))
            }
            Trust::CaPem(_) => f.write_str("CaPem(..)"),
        }
    }
}

impl Trust {
    /// Parses a pin as printed by `pramaan admin init` (base64url of 32 bytes, no padding).
    pub fn from_pin_b64url(pin: &str) -> Result<Self, TransportError> {
        let bytes = crate::encoding::b64url_decode(pin)
            .map_err(|_| TransportError::BadTrust("pin is not base64url".into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TransportError::BadTrust("pin is not 32 bytes".into()))?;
        Ok(Trust::Pin(arr))
    }
}

pub use crate::encoding::b64url;

/// SHA-256 of the SubjectPublicKeyInfo of a DER certificate: the pin.
pub fn spki_pin(cert_der: &[u8]) -> Result<[u8; 32], TransportError> {
    crate::encoding::spki_pin(cert_der).map_err(|e| TransportError::BadTrust(e.to_string()))
}

/// Timeouts and retries.
#[derive(Debug, Clone)]
pub struct Options {
    /// Timeout for establishing the TCP connection (default 10 s).
    pub connect_timeout: Duration,
    /// Read and write timeout on the connection (default 30 s).
    pub io_timeout: Duration,
    /// Total attempts for a request whose connection failed (1 = no retry).
    pub attempts: u32,
    /// First backoff delay; doubles each retry.
    pub backoff: Duration,
    /// Cap on a response body in bytes (default [`DEFAULT_MAX_RESPONSE`], 64 MiB).
    pub max_response: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            attempts: 3,
            backoff: Duration::from_millis(200),
            max_response: DEFAULT_MAX_RESPONSE,
        }
    }
}

/// A parsed `https://host[:port][/base]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// Host name or IP address (without brackets for IPv6).
    pub host: String,
    /// Port; 443 when the URL gives none.
    pub port: u16,
    /// Path prefix for every request, without trailing `/` (empty for none).
    pub base_path: String,
}

impl ServerUrl {
    /// Parses an https URL. Only `https` is accepted: devices never talk in clear.
    pub fn parse(url: &str) -> Result<Self, TransportError> {
        let bad = |reason| TransportError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| bad("must start with https://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad("user info is not allowed"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None if after.is_empty() => 443,
                None => return Err(bad("junk after ]")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
                None => (authority.to_string(), 443),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if path.contains(['?', '#']) {
            return Err(bad("query or fragment not allowed in the server URL"));
        }
        Ok(Self {
            host,
            port,
            base_path: path.trim_end_matches('/').to_string(),
        })
    }
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Retry-After` header in seconds, if any (an HTTP date is not used by Pramaan
    /// servers and reads as `None`).
    pub retry_after: Option<u64>,
    /// The body, decoded from chunked if need be.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

type Stream = StreamOwned<ClientConnection, TcpStream>;

/// A blocking HTTPS client bound to one server.
pub struct HttpsClient {
    url: ServerUrl,
    server_name: ServerName<'static>,
    config: Arc<ClientConfig>,
    options: Options,
    bearer: Option<String>,
    headers: Vec<(String, String)>,
    conn: Mutex<Option<BufReader<Stream>>>,
    peer_pin: Mutex<Option<[u8; 32]>>,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bearer token is a secret: never printed.
        f.debug_struct("HttpsClient")
            .field("url", &self.url)
            .finish()
    }
}

impl HttpsClient {
    /// A client for `server` (`https://host[:port][/base]`); connects on the first request.
    pub fn new(server: &str, trust: Trust, options: Options) -> Result<Self, TransportError> {
        let url = ServerUrl::parse(server)?;
        let server_name =
            ServerName::try_from(url.host.clone()).map_err(|_| TransportError::BadUrl {
                url: server.to_string(),
                reason: "host is not a valid DNS name or IP address",
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::BadTrust(e.to_string()))?;
        let config = match trust {
            Trust::Pin(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinVerifier {
                    pins: vec![pin],
                    provider,
                }))
                .with_no_client_auth(),
            Trust::Pins(pins) if !pins.is_empty() => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinVerifier { pins, provider }))
                .with_no_client_auth(),
            Trust::Pins(_) => return Err(TransportError::BadTrust("no pin given".into())),
            Trust::CaPem(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert =
                        cert.map_err(|e| TransportError::BadTrust(format!("CA file: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| TransportError::BadTrust(format!("CA certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(TransportError::BadTrust(
                        "CA file holds no certificate".into(),
                    ));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        Ok(Self {
            url,
            server_name,
            config: Arc::new(config),
            options,
            bearer: None,
            headers: Vec::new(),
            conn: Mutex::new(None),
            peer_pin: Mutex::new(None),
        })
    }

    /// The pin (SPKI SHA-256) of the certificate the last successful handshake met:
    /// which of several trusted pins ([`Trust::Pins`]) the server holds.
    pub fn peer_pin(&self) -> Option<[u8; 32]> {
        *self.peer_pin.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// Sends `name: value` with every request (e.g. `X-Forwarded-For` from a proxy, or
    /// in tests). A name that is not a token or a value with a control character is
    /// refused.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, TransportError> {
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let value_ok = value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        if !(name_ok && value_ok) {
            return Err(TransportError::BadHeader(name.to_string()));
        }
        self.headers.push((name.to_string(), value.to_string()));
        Ok(self)
    }

    /// The server URL it talks to.
    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    /// `GET` of `path` (appended to the base path).
    pub fn get(&self, path: &str) -> Result<Response, TransportError> {
        self.request("GET", path, None)
    }

    /// `POST` of `body` with its `content_type` to `path`.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Response, TransportError> {
        self.request("POST", path, Some((content_type, body)))
    }

    /// `PUT` of `body` with its `content_type` to `path`.
    pub fn put(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Response, TransportError> {
        self.request("PUT", path, Some((content_type, body)))
    }

    /// Sends one request; connection failures are retried with exponential backoff. A
    /// non-idempotent request ([`is_idempotent`]) is retried only when no connection could
    /// be made: once bytes may have reached the server, the failure is reported.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, TransportError> {
        let mut delay = self.options.backoff;
        let mut attempt = 1;
        loop {
            match self.request_once(method, path, body) {
                Err(e)
                    if e.is_transient()
                        && (is_idempotent(method)
                            || matches!(e, TransportError::Connect { .. }))
                        && attempt < self.options.attempts =>
                {
                    log::debug!(
                        "{method} {path}: attempt {attempt} failed ({e}); retrying in {delay:?}"
                    );
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn request_once(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, TransportError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // A kept-alive connection may have been closed by the server: if the request on it
        // fails, try once on a fresh connection before reporting, unless it timed out and
        // is not idempotent (the server may have it and still be working on it).
        if let Some(mut stream) = guard.take() {
            match self.exchange(&mut stream, method, path, body) {
                Ok((resp, keep)) => {
                    if keep {
                        *guard = Some(stream);
                    }
                    return Ok(resp);
                }
                Err(e) if e.is_timeout() && !is_idempotent(method) => return Err(e),
                Err(_) => {}
            }
        }
        let mut stream = self.connect()?;
        let (resp, keep) = self.exchange(&mut stream, method, path, body)?;
        if keep {
            *guard = Some(stream);
        }
        Ok(resp)
    }

    fn connect(&self) -> Result<BufReader<Stream>, TransportError> {
        let addr_text = format!("{}:{}", self.url.host, self.url.port);
        let connect_err = |source| TransportError::Connect {
            addr: addr_text.clone(),
            source,
        };
        let addrs: Vec<_> = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()
            .map_err(connect_err)?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.options.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            connect_err(last.unwrap_or_else(|| std::io::Error::other("no address for host")))
        })?;
        tcp.set_read_timeout(Some(self.options.io_timeout))?;
        tcp.set_write_timeout(Some(self.options.io_timeout))?;
        tcp.set_nodelay(true)?;
        let conn =
            ClientConnection::new(self.config.clone(), self.server_name.clone()).map_err(|e| {
                TransportError::Tls {
                    host: self.url.host.clone(),
                    detail: e.to_string(),
                }
            })?;
        let mut stream = StreamOwned::new(conn, tcp);
        // Complete the handshake before writing anything: the certificate is checked here.
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| self.tls_error(e))?;
        }
        let pin = stream
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|leaf| spki_pin(leaf.as_ref()).ok());
        *self.peer_pin.lock().unwrap_or_else(|p| p.into_inner()) = pin;
        Ok(BufReader::new(stream))
    }

    fn tls_error(&self, e: std::io::Error) -> TransportError {
        let detail = e.to_string();
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
            && let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = inner
            && let Some(PinMismatch(expected)) = other.0.downcast_ref::<PinMismatch>()
        {
            return TransportError::PinMismatch {
                expected: expected.clone(),
            };
        }
        if e.kind() == std::io::ErrorKind::InvalidData {
            return TransportError::Tls {
                host: self.url.host.clone(),
                detail,
            };
        }
        TransportError::Io(e)
    }

    fn exchange(
        &self,
        stream: &mut BufReader<Stream>,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<(Response, bool), TransportError> {
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pramaan/{}\r\nAccept: */*\r\n",
            self.url.base_path,
            host_header(&self.url),
            env!("CARGO_PKG_VERSION"),
        );
        if let Some(token) = &self.bearer {
            head.push_str("Authorization: Bearer ");
            head.push_str(token);
            head.push_str("\r\n");
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let payload = match body {
            Some((ct, bytes)) => {
                head.push_str(&format!(
                    "Content-Type: {ct}\r\nContent-Length: {}\r\n",
                    bytes.len()
                ));
                bytes
            }
            None => &[][..],
        };
        head.push_str("\r\n");
        let w = stream.get_mut();
        w.write_all(head.as_bytes())?;
        w.write_all(payload)?;
        w.flush()?;
        read_response(stream, self.options.max_response, method == "HEAD")
    }
}

fn host_header(url: &ServerUrl) -> String {
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    if url.port == 443 {
        host
    } else {
        format!("{host}:{}", url.port)
    }
}

/// Reads one response; returns it and whether the connection may be reused.
fn read_response<R: BufRead>(
    r: &mut R,
    max: usize,
    head_only: bool,
) -> Result<(Response, bool), TransportError> {
    let mut head = Vec::with_capacity(512);
    loop {
        let before = head.len();
        let n = r.by_ref().take(8192).read_until(b'\n', &mut head)?;
        if n == 0 {
            return Err(TransportError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            )));
        }
        if head.len() > 64 * 1024 {
            return Err(TransportError::BadResponse("headers too large".into()));
        }
        if head[before..] == *b"\r\n" || head[before..] == *b"\n" {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(TransportError::BadResponse("truncated head".into()));
        }
        Err(e) => return Err(TransportError::BadResponse(e.to_string())),
    }
    let status = parsed
        .code
        .ok_or_else(|| TransportError::BadResponse("no status".into()))?;
    let mut content_length = None;
    let mut chunked = false;
    let mut close = parsed.version == Some(0);
    let mut content_type = None;
    let mut retry_after = None;
    for h in parsed.headers.iter() {
        let value = String::from_utf8_lossy(h.value).trim().to_string();
        if h.name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| TransportError::BadResponse("bad Content-Length".into()))?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if h.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value);
        } else if h.name.eq_ignore_ascii_case("retry-after") {
            retry_after = value.parse::<u64>().ok();
        }
    }
    let body = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if chunked {
        read_chunked(r, max)?
    } else if let Some(len) = content_length {
        if len > max {
            return Err(TransportError::TooLarge(max));
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        body
    } else {
        close = true;
        let mut body = Vec::new();
        r.take(max as u64 + 1).read_to_end(&mut body)?;
        if body.len() > max {
            return Err(TransportError::TooLarge(max));
        }
        body
    };
    Ok((
        Response {
            status,
            content_type,
            retry_after,
            body,
        },
        !close,
    ))
}

fn read_chunked<R: BufRead>(r: &mut R, max: usize) -> Result<Vec<u8>, TransportError> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        r.by_ref().take(1024).read_until(b'\n', &mut line)?;
        let text = std::str::from_utf8(&line)
            .map_err(|_| TransportError::BadResponse("bad chunk size".into()))?;
        let size_text = text.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| TransportError::BadResponse("bad chunk size".into()))?;
        if size == 0 {
            // Trailers, then the final empty line.
            loop {
                let mut t = Vec::new();
                let n = r.by_ref().take(8192).read_until(b'\n', &mut t)?;
                if n == 0 || t == b"\r\n" || t == b"\n" {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > max {
            return Err(TransportError::TooLarge(max));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
        if crlf != *b"\r\n" {
            return Err(TransportError::BadResponse(
                "chunk not followed by CRLF".into(),
            ));
        }
    }
}

/// The error a pinned verifier raises; carried through rustls to give a clear message.
#[derive(Debug)]
struct PinMismatch(String);

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server key does not match pin {}", self.0)
    }
}

impl std::error::Error for PinMismatch {}

/// Accepts exactly the server whose certificate carries the pinned public key; the
/// handshake signature is still verified with that key, so the peer must hold it.
#[derive(Debug)]
struct PinVerifier {
    pins: Vec<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = spki_pin(end_entity.as_ref()).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        // The pin is public, but compare in constant time anyway: it costs nothing.
        if self
            .pins
            .iter()
            .any(|pin| bool::from(subtle::ConstantTimeEq::ct_eq(&got[..], &pin[..])))
        {
            Ok(ServerCertVerified::assertion())
        } else {
            let pinned: Vec<String> = self.pins.iter().map(|p| b64url(p)).collect();
            let pinned = pinned.join(" or ");
            log::warn!(
                "server presented SPKI {} but {pinned} is pinned",
                b64url(&got),
            );
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch(pinned)))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn extra_headers_that_would_break_the_request_are_refused() {
        let client = || {
            HttpsClient::new(
                "https://127.0.0.1:1",
                Trust::Pin([0; 32]),
                Options::default(),
            )
            .expect("client")
        };
        assert!(
            client()
                .with_header("X-Forwarded-For", "198.51.100.1, 10.0.0.1")
                .is_ok()
        );
        for (name, value) in [
            ("", "x"),
            ("X Forwarded", "x"),
            ("X-A:", "x"),
            ("X-A", "a\r\nX-Injected: 1"),
            ("X-A", "a\nb"),
        ] {
            let e = client()
                .with_header(name, value)
                .map(|_| ())
                .expect_err(name);
            assert!(
                matches!(e, TransportError::BadHeader(ref n) if n == name),
                "{e}"
            );
        }
    }

    /// A server that accepts connections and never answers: a POST is sent once (the
    /// server may be working on it), a GET is tried `attempts` times.
    #[test]
    fn post_is_not_sent_again_after_a_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(s); // open, silent
            }
        });
        let options = Options {
            io_timeout: Duration::from_millis(200),
            backoff: Duration::from_millis(1),
            attempts: 3,
            ..Options::default()
        };
        let client = HttpsClient::new(
            &format!("https://127.0.0.1:{port}"),
            Trust::Pin([0; 32]),
            options,
        )
        .expect("client");
        let e = client
            .post("/v1/officers/import", "text/csv", b"officer_id\n")
            .expect_err("no answer");
        assert!(e.is_timeout(), "{e:?}");
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "POST sent once"
        );
        let e = client.get("/v1/compliance").expect_err("no answer");
        assert!(e.is_timeout(), "{e:?}");
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            4,
            "GET tried three times"
        );
        assert!(!is_idempotent("POST") && is_idempotent("PUT") && is_idempotent("GET"));
    }

    #[test]
    fn parses_urls() {
        assert_eq!(
            ServerUrl::parse("https://example.org").expect("url"),
            ServerUrl {
                host: "example.org".into(),
                port: 443,
                base_path: String::new()
            }
        );
        let u = ServerUrl::parse("https://127.0.0.1:8443/pramaan/").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.base_path.as_str()),
            ("127.0.0.1", 8443, "/pramaan")
        );
        let v6 = ServerUrl::parse("https://[::1]:9000").expect("url");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9000));
        for bad in [
            "http://example.org",
            "https://",
            "https://a:notaport",
            "https://u@h",
            "https://h/?q",
            "https://[::1",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pins_parse() {
        let pin = b64url(&[7u8; 32]);
        assert_eq!(
            Trust::from_pin_b64url(&pin).expect("pin"),
            Trust::Pin([7; 32])
        );
        assert!(Trust::from_pin_b64url("short").is_err());
        assert!(Trust::from_pin_b64url("!!!").is_err());
    }

    #[test]
    fn reads_content_length_and_chunked_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/cbor\r\nContent-Length: 3\r\n\r\nabcNEXT";
        let mut r = Cursor::new(&raw[..]);
        let (resp, keep) = read_response(&mut r, 100, false).expect("parse");
        assert_eq!(
            (resp.status, resp.body.as_slice(), keep),
            (200, &b"abc"[..], true)
        );
        assert_eq!(resp.content_type.as_deref(), Some("application/cbor"));

        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\n\r\n";
        let (resp, keep) =
            read_response(&mut Cursor::new(&chunked[..]), 100, false).expect("parse");
        assert_eq!(
            (resp.status, resp.body.as_slice(), keep),
            (404, &b"abc"[..], false)
        );
    }

    #[test]
    fn rejects_bad_and_oversized_responses() {
        let big = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        assert!(matches!(
            read_response(&mut Cursor::new(&big[..]), 10, false),
            Err(TransportError::TooLarge(10))
        ));
        let garbage = b"NOT HTTP\r\n\r\n";
        assert!(read_response(&mut Cursor::new(&garbage[..]), 10, false).is_err());
        let truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";
        assert!(read_response(&mut Cursor::new(&truncated[..]), 10, false).is_err());
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(read_response(&mut Cursor::new(&bad_chunk[..]), 10, false).is_err());
        assert!(read_response(&mut Cursor::new(&b""[..]), 10, false).is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_responses_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = read_response(&mut Cursor::new(&bytes[..]), 1000, false);
        }
    }
}
