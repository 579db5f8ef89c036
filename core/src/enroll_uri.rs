//! The enrollment URI (design section 5 item 1), made by the server and parsed by the agent:
//! `pramaan://enroll?v=1&server=<https-url>&token=<b64url>&pin=<b64url sha256(spki)>`, or
//! the same query behind a universal (app) link `https://<host>/<path>/enroll?...`, the
//! form a phone's camera opens in the app (Android App Links, iOS universal links).
//!
//! Values are percent-encoded on output and decoded on input, so a server URL with a port
//! or a path survives a QR code and a copy-paste. Parsing is the single place that turns
//! the untrusted text of a scanned code into typed values.

use crate::transport::{ServerUrl, Trust, b64url};

/// Why an enrollment URI was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UriError {
    /// Neither `pramaan://enroll?...` nor `https://<host>/<path>/enroll?...`.
    #[error(
        "not a Pramaan enrollment link (expected pramaan://enroll?... or https://<host>/.../enroll?...)"
    )]
    Scheme,
    /// Longer than [`MAX_LEN`] bytes; holds the length.
    #[error("enrollment link is {0} bytes long (at most 4096)")]
    TooLong(usize),
    /// A `v` other than `1`; holds it.
    #[error("unsupported enrollment URI version {0:?} (this agent speaks v=1)")]
    Version(String),
    /// A required parameter (`v`, `server`, `token`, `pin`) is absent; holds its name.
    #[error("enrollment URI lacks `{0}`")]
    Missing(&'static str),
    /// A parameter that does not parse (or bad percent-encoding); holds which.
    #[error("enrollment URI has a bad `{0}`")]
    Bad(&'static str),
    /// A parameter given twice; holds its name.
    #[error("enrollment URI repeats `{0}`")]
    Repeated(String),
}

/// A parsed enrollment URI.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentUri {
    /// `https://host[:port][/base]`.
    pub server: String,
    /// The one-time enrollment token (base64url text, sent as is).
    pub token: String,
    /// SHA-256 of the server's SubjectPublicKeyInfo.
    pub pin: [u8; 32],
}

impl std::fmt::Debug for EnrollmentUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a bearer secret until used: never printed in diagnostics.
        f.debug_struct("EnrollmentUri")
            .field("server", &self.server)
            .field("pin", &b64url(&self.pin))
            .finish_non_exhaustive()
    }
}

/// The longest enrollment link accepted, in bytes. The server's links are a few hundred
/// bytes; anything far longer is not one of them, and is refused before it is read.
pub const MAX_LEN: usize = 4096;

impl EnrollmentUri {
    /// Parses scanned or pasted text; unknown parameters are ignored, the token is not shown.
    ///
    /// Two forms, one query: `pramaan://enroll?<query>` and the universal (app) link
    /// `https://<host>[:port]/<path>/enroll?<query>`, whose path ends in `/enroll`. The
    /// link's own host is not trusted for anything: the server and its pin come from the
    /// query, so a link on any host leads to the same pinned server, and a link that is
    /// not an enrollment link is refused as [`UriError::Scheme`]. A `#fragment` is
    /// ignored; keys and values are percent-decoded, so `s%65rver` is `server` (and
    /// counts as a repeat of it).
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let text = text.trim();
        if text.len() > MAX_LEN {
            return Err(UriError::TooLong(text.len()));
        }
        let text = text.split_once('#').map_or(text, |(before, _)| before);
        let query = query_of(text)?;
        let (mut v, mut server, mut token, mut pin) = (None, None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key).ok_or(UriError::Bad("percent-encoding"))?;
            let value = percent_decode(value).ok_or(UriError::Bad("percent-encoding"))?;
            let slot = match key.as_str() {
                "v" => &mut v,
                "server" => &mut server,
                "token" => &mut token,
                "pin" => &mut pin,
                _ => continue, // later versions may add parameters
            };
            if slot.replace(value).is_some() {
                return Err(UriError::Repeated(key));
            }
        }
        match v.as_deref() {
            Some("1") => {}
            Some(other) => return Err(UriError::Version(other.to_string())),
            None => return Err(UriError::Missing("v")),
        }
        let server = server.ok_or(UriError::Missing("server"))?;
        server_host(&server).ok_or(UriError::Bad("server"))?;
        let token = token.ok_or(UriError::Missing("token"))?;
        if token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(UriError::Bad("token"));
        }
        let pin = match Trust::from_pin_b64url(&pin.ok_or(UriError::Missing("pin"))?) {
            Ok(Trust::Pin(p)) => p,
            _ => return Err(UriError::Bad("pin")),
        };
        Ok(Self { server, token, pin })
    }

    /// The server's host name (or IP address), to show the officer which server the link
    /// leads to.
    pub fn host(&self) -> String {
        // `parse` checked the server URL, and the fields are public: fall back to the URL
        // itself rather than fail for a value built by hand.
        server_host(&self.server).unwrap_or_else(|| self.server.clone())
    }
}

/// The query of either form of the link (see [`EnrollmentUri::parse`]).
fn query_of(text: &str) -> Result<&str, UriError> {
    if let Some(query) = text.strip_prefix("pramaan://enroll?") {
        return Ok(query);
    }
    let rest = text.strip_prefix("https://").ok_or(UriError::Scheme)?;
    let (before, query) = rest.split_once('?').ok_or(UriError::Scheme)?;
    let (authority, path) = before.split_once('/').ok_or(UriError::Scheme)?;
    // Host, port and IPv6 brackets only: no user info, no spaces, nothing to decode.
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/'));
    let is_enroll = path == "enroll" || path.ends_with("/enroll");
    if authority_ok && path_ok && is_enroll {
        Ok(query)
    } else {
        Err(UriError::Scheme)
    }
}

/// The host of an `https://` server URL the agent can connect to (a DNS name or an IP
/// address, nothing a person could misread), or `None`.
fn server_host(server: &str) -> Option<String> {
    if server
        .chars()
        .any(|c| c.is_whitespace() || crate::text::is_unsafe_char(c))
    {
        return None;
    }
    let url = ServerUrl::parse(server).ok()?;
    rustls::pki_types::ServerName::try_from(url.host.as_str()).ok()?;
    Some(url.host)
}

impl std::fmt::Display for EnrollmentUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pramaan://enroll?v=1&server={}&token={}&pin={}",
            percent_encode(&self.server),
            percent_encode(&self.token),
            b64url(&self.pin)
        )
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                // Two hex digits exactly (`from_str_radix` alone would take `%+1`).
                let hex = s.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> EnrollmentUri {
        EnrollmentUri {
            server: "https://127.0.0.1:8443/pramaan".into(),
            token: "AbC-_09".into(),
            pin: [3; 32],
        }
    }

    #[test]
    fn round_trips() {
        let uri = sample();
        let text = uri.to_string();
        assert!(text.starts_with("pramaan://enroll?v=1&server=https%3A%2F%2F127.0.0.1%3A8443"));
        assert_eq!(EnrollmentUri::parse(&text), Ok(uri));
    }

    #[test]
    fn accepts_unencoded_server_and_unknown_params() {
        let text = format!(
            "pramaan://enroll?v=1&server=https://gad.gujarat.gov.in&token=abc&pin={}&future=1",
            b64url(&[1; 32])
        );
        let uri = EnrollmentUri::parse(&text).expect("parses");
        assert_eq!(uri.server, "https://gad.gujarat.gov.in");
        assert!(!format!("{uri:?}").contains("abc"), "token not in Debug");
    }

    #[test]
    fn rejects_bad_uris() {
        let pin = b64url(&[1; 32]);
        let cases = [
            ("https://x".to_string(), UriError::Scheme),
            (
                format!("pramaan://enroll?v=2&server=https://a&token=t&pin={pin}"),
                UriError::Version("2".into()),
            ),
            (
                format!("pramaan://enroll?server=https://a&token=t&pin={pin}"),
                UriError::Missing("v"),
            ),
            (
                format!("pramaan://enroll?v=1&token=t&pin={pin}"),
                UriError::Missing("server"),
            ),
            (
                format!("pramaan://enroll?v=1&server=http://a&token=t&pin={pin}"),
                UriError::Bad("server"),
            ),
            (
                "pramaan://enroll?v=1&server=https://a&token=t&pin=AAAA".to_string(),
                UriError::Bad("pin"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&token=a%20b&pin={pin}"),
                UriError::Bad("token"),
            ),
            (
                format!("pramaan://enroll?v=1&v=1&server=https://a&token=t&pin={pin}"),
                UriError::Repeated("v".into()),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&token=%zz&pin={pin}"),
                UriError::Bad("percent-encoding"),
            ),
        ];
        for (text, err) in cases {
            assert_eq!(EnrollmentUri::parse(&text), Err(err), "{text}");
        }
    }

    fn query() -> String {
        sample().to_string()["pramaan://enroll?".len()..].to_string()
    }

    #[test]
    fn universal_links_carry_the_same_query() {
        for prefix in [
            "https://gad.pramaan.gujarat.gov.in/enroll?",
            "https://links.example.org:8443/app/v1/enroll?",
            "https://[::1]/enroll?",
        ] {
            let text = format!("{prefix}{}", query());
            let uri = EnrollmentUri::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(uri, sample(), "{text}");
            // Canonical form out: the link's own host is gone, the server stays.
            assert!(
                uri.to_string()
                    .starts_with("pramaan://enroll?v=1&server=https%3A%2F%2F127.0.0.1")
            );
            assert_eq!(uri.host(), "127.0.0.1");
        }
        // A fragment is ignored in both forms.
        let text = format!("pramaan://enroll?{}#x=1&token=other", query());
        assert_eq!(EnrollmentUri::parse(&text), Ok(sample()));
        let text = format!("https://h.example/enroll?{}#frag", query());
        assert_eq!(EnrollmentUri::parse(&text), Ok(sample()));
    }

    #[test]
    fn links_that_are_not_enrollment_links_are_refused() {
        let q = query();
        for text in [
            format!("http://h.example/enroll?{q}"),
            format!("HTTPS://h.example/enroll?{q}"),
            format!("https://h.example/enrollx?{q}"),
            format!("https://h.example/xenroll?{q}"),
            format!("https://h.example/enroll/?{q}"),
            format!("https://h.example/enroll{q}"),
            format!("https://h.example?{q}"),
            format!("https:///enroll?{q}"),
            format!("https://user@h.example/enroll?{q}"),
            format!("https://h.example/en%72oll?{q}"),
            format!("https://h .example/enroll?{q}"),
            format!("https://h.example/a b/enroll?{q}"),
            format!("pramaan://enrollx?{q}"),
            format!("pramaan://enroll/?{q}"),
            format!("pramaan:enroll?{q}"),
            String::new(),
        ] {
            assert_eq!(EnrollmentUri::parse(&text), Err(UriError::Scheme), "{text}");
        }
    }

    #[test]
    fn hostile_queries_are_refused() {
        let pin = b64url(&[1; 32]);
        let cases = [
            // A percent-encoded key is the key: a second `server` is a repeat.
            (
                format!(
                    "pramaan://enroll?v=1&server=https://a&%73erver=https://evil&token=t&pin={pin}"
                ),
                UriError::Repeated("server".into()),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&token=t&token=u&pin={pin}"),
                UriError::Repeated("token".into()),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&token=t&pin={pin}&pin={pin}"),
                UriError::Repeated("pin".into()),
            ),
            (
                "pramaan://enroll?v=1&server=https://a&token=t".to_string(),
                UriError::Missing("pin"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&pin={pin}"),
                UriError::Missing("token"),
            ),
            // `%+1` is not two hex digits, nor is a truncated escape.
            (
                format!("pramaan://enroll?v=1&server=https://a&token=%+1&pin={pin}"),
                UriError::Bad("percent-encoding"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&token=t&pin={pin}%4"),
                UriError::Bad("percent-encoding"),
            ),
            // Invalid UTF-8 once decoded.
            (
                format!("pramaan://enroll?v=1&server=https://a%FF&token=t&pin={pin}"),
                UriError::Bad("percent-encoding"),
            ),
            // Control, bidi and space characters in the server the officer is shown.
            (
                format!("pramaan://enroll?v=1&server=https://a%00b&token=t&pin={pin}"),
                UriError::Bad("server"),
            ),
            (
                format!(
                    "pramaan://enroll?v=1&server=https://ni.vog%E2%80%AEgujarat&token=t&pin={pin}"
                ),
                UriError::Bad("server"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a%20b&token=t&pin={pin}"),
                UriError::Bad("server"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a_b!&token=t&pin={pin}"),
                UriError::Bad("server"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://u@a&token=t&pin={pin}"),
                UriError::Bad("server"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&token=t%0A&pin={pin}"),
                UriError::Bad("token"),
            ),
            (
                format!("pramaan://enroll?v=1&server=https://a&token=t&pin={pin}%00"),
                UriError::Bad("pin"),
            ),
            (
                format!("https://h.example/enroll?v=1&server=http://a&token=t&pin={pin}"),
                UriError::Bad("server"),
            ),
        ];
        for (text, err) in cases {
            assert_eq!(EnrollmentUri::parse(&text), Err(err), "{text}");
        }
    }

    #[test]
    fn a_megabyte_is_refused_before_it_is_read() {
        let huge = format!("pramaan://enroll?{}&token={}", query(), "A".repeat(1 << 20));
        assert_eq!(
            EnrollmentUri::parse(&huge),
            Err(UriError::TooLong(huge.len()))
        );
        let nul = "\0".repeat(1 << 20);
        assert!(matches!(
            EnrollmentUri::parse(&nul),
            Err(UriError::TooLong(_))
        ));
        // Up to the limit it is read (and refused for what it says, not its size).
        let long = format!(
            "https://h.example/enroll?{}&pad={}",
            query(),
            "x".repeat(3000)
        );
        assert!(long.len() <= MAX_LEN);
        assert_eq!(EnrollmentUri::parse(&long), Ok(sample()));
    }

    #[test]
    fn errors_never_show_the_token() {
        let text = "pramaan://enroll?v=1&server=https://a&token=SECRETtok&pin=AAAA";
        let err = EnrollmentUri::parse(text).expect_err("bad pin");
        assert!(!err.to_string().contains("SECRET"));
        assert!(!format!("{err:?}").contains("SECRET"));
    }

    proptest! {
        #[test]
        fn random_text_never_panics(s in ".{0,200}") {
            let _ = EnrollmentUri::parse(&s);
            let _ = EnrollmentUri::parse(&format!("pramaan://enroll?{s}"));
            let _ = EnrollmentUri::parse(&format!("https://{s}/enroll?{s}"));
        }

        #[test]
        fn accepted_links_print_to_a_canonical_link_that_parses_the_same(
            host in "[a-z]{1,10}(\\.[a-z]{2,5}){0,2}",
            path in "(/[a-z0-9]{1,6}){0,3}",
            extra in "[a-zA-Z0-9%=&#]{0,30}",
        ) {
            let text = format!("https://{host}{path}/enroll?{}&{extra}", query());
            if let Ok(uri) = EnrollmentUri::parse(&text) {
                prop_assert_eq!(EnrollmentUri::parse(&uri.to_string()), Ok(uri));
            }
        }
    }
}
