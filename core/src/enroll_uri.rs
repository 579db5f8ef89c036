//! The enrollment URI (design section 5 item 1), made by the server and parsed by the agent:
//! `pramaan://enroll?v=1&server=<https-url>&token=<b64url>&pin=<b64url sha256(spki)>`.
//!
//! Values are percent-encoded on output and decoded on input, so a server URL with a port
//! or a path survives a QR code and a copy-paste. Parsing is the single place that turns
//! the untrusted text of a scanned code into typed values.

use crate::transport::{ServerUrl, Trust, b64url};

/// Why an enrollment URI was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UriError {
    /// Does not start with `pramaan://enroll?`.
    #[error("not a Pramaan enrollment URI (expected pramaan://enroll?...)")]
    Scheme,
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

impl EnrollmentUri {
    /// Parses scanned or pasted text; unknown parameters are ignored, the token is not shown.
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let query = text
            .trim()
            .strip_prefix("pramaan://enroll?")
            .ok_or(UriError::Scheme)?;
        let (mut v, mut server, mut token, mut pin) = (None, None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or(UriError::Bad("percent-encoding"))?;
            let slot = match key {
                "v" => &mut v,
                "server" => &mut server,
                "token" => &mut token,
                "pin" => &mut pin,
                _ => continue, // later versions may add parameters
            };
            if slot.replace(value).is_some() {
                return Err(UriError::Repeated(key.to_string()));
            }
        }
        match v.as_deref() {
            Some("1") => {}
            Some(other) => return Err(UriError::Version(other.to_string())),
            None => return Err(UriError::Missing("v")),
        }
        let server = server.ok_or(UriError::Missing("server"))?;
        ServerUrl::parse(&server).map_err(|_| UriError::Bad("server"))?;
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
                let hex = s.get(i + 1..i + 3)?;
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

    proptest! {
        #[test]
        fn random_text_never_panics(s in ".{0,200}") {
            let _ = EnrollmentUri::parse(&s);
            let _ = EnrollmentUri::parse(&format!("pramaan://enroll?{s}"));
        }
    }
}
