//! Enrollment links and the enrollment preview, for the app's enrollment screens.
//!
//! Why in the core: the link arrives from a QR code or a tapped universal link, both
//! hostile input. One parser ([`pramaan_core::enroll_uri`]) decides what a link is on
//! every platform; the app only shows [`EnrollLink::host`] and hands
//! [`EnrollLink::uri`] back to [`Agent::preview_enrollment`] and `Agent::enroll`. The
//! token stays inside `uri`: no other field, no Debug output and no log line holds it.

use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::transport::b64url;

use crate::{Agent, ApiError};

/// A scanned or tapped enrollment link, parsed. Accepts
/// `pramaan://enroll?v=1&server=..&token=..&pin=..` and the universal-link form
/// `https://<any host>/<path ending in>/enroll?<the same query>` (the link's own host
/// does not matter: trust comes from `server` and `pin`).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrollLink {
    /// The canonical `pramaan://enroll?...` link to pass to `Agent.enroll` and
    /// `Agent.previewEnrollment` (it carries the token: do not log or show it).
    pub uri: String,
    /// The server, `https://host[:port][/base]`.
    pub server: String,
    /// The server's host only, to show the officer (`gad.pramaan.gujarat.gov.in`).
    pub host: String,
    /// The pin: base64url SHA-256 of the server's SubjectPublicKeyInfo.
    pub pin: String,
}

impl std::fmt::Debug for EnrollLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `uri` holds the token, a bearer secret until used.
        f.debug_struct("EnrollLink")
            .field("server", &self.server)
            .field("host", &self.host)
            .field("pin", &self.pin)
            .finish_non_exhaustive()
    }
}

/// Parses the text of a scanned QR code or a tapped link. `InvalidInput` says why it is
/// not an enrollment link (never quoting the token).
#[uniffi::export]
pub fn parse_enroll_link(text: String) -> Result<EnrollLink, ApiError> {
    let uri = EnrollmentUri::parse(&text).map_err(|e| ApiError::InvalidInput {
        detail: e.to_string(),
    })?;
    Ok(EnrollLink {
        uri: uri.to_string(),
        host: uri.host(),
        pin: b64url(&uri.pin),
        server: uri.server,
    })
}

/// What the token is for, asked of the server before enrolling (nothing is consumed or
/// stored): the officer checks the name and department before confirming.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrollmentPreview {
    /// The officer the token was issued for (registry id, `GAD-001`).
    pub officer_id: String,
    /// The officer's name as in the registry.
    pub officer_name: String,
    /// The department code (`GAD`).
    pub department: String,
    /// The department's full name (may be empty).
    pub department_name: String,
    /// The server the link leads to.
    pub server: String,
    /// When the token expires, Unix seconds.
    pub expires_at: u64,
}

#[uniffi::export]
impl Agent {
    /// Asks the link's server whom its token enrolls, without enrolling: shows the
    /// officer's name and department for the officer to confirm. Refusals as `enroll`'s:
    /// `InvalidInput` (bad link), `AlreadyEnrolled`, `Network`, `Rejected` with the
    /// server's code (`unknown_token`, `token_used`, `token_expired`, `token_cancelled`).
    pub fn preview_enrollment(&self, uri: String) -> Result<EnrollmentPreview, ApiError> {
        let p = self.inner.preview_enrollment(&uri)?;
        Ok(EnrollmentPreview {
            officer_id: p.preview.officer_id,
            officer_name: p.preview.officer_name,
            department: p.preview.department,
            department_name: p.preview.department_name,
            server: p.server,
            expires_at: p.preview.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";

    #[test]
    fn both_link_forms_parse_to_the_canonical_one() {
        let query =
            format!("v=1&server=https%3A%2F%2Fgad.example.in%3A8443&token=SeCrEt-_1&pin={PIN}");
        let a = parse_enroll_link(format!("pramaan://enroll?{query}")).expect("custom scheme");
        let b = parse_enroll_link(format!("https://links.example.org/p/enroll?{query}"))
            .expect("universal link");
        assert_eq!(a, b);
        assert_eq!(a.server, "https://gad.example.in:8443");
        assert_eq!(a.host, "gad.example.in");
        assert_eq!(a.pin, PIN);
        assert!(a.uri.starts_with("pramaan://enroll?v=1&server="));
        assert!(a.uri.contains("token=SeCrEt-_1"));
        assert!(!format!("{a:?}").contains("SeCrEt"), "token not in Debug");
    }

    /// A software key behind the platform's `Signer` trait.
    struct Soft(pramaan_core::keys::SoftwareSigner);

    impl crate::Signer for Soft {
        fn public_key(&self) -> Result<Vec<u8>, ApiError> {
            pramaan_core::keys::Signer::public_key(&self.0)
                .map(|k| k.as_sec1().to_vec())
                .map_err(|e| ApiError::Platform {
                    detail: e.to_string(),
                })
        }
        fn sign(&self, m: Vec<u8>) -> Result<Vec<u8>, ApiError> {
            pramaan_core::keys::Signer::sign(&self.0, &m).map_err(|e| ApiError::Platform {
                detail: e.to_string(),
            })
        }
    }

    #[test]
    fn the_platform_previews_a_scanned_link_and_sees_refusals_as_codes() {
        let env = pramaan_testkit::start();
        env.seed();
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("state");
        let key = pramaan_core::keys::SoftwareSigner::generate().expect("key");
        let agent =
            Agent::new(dir.display().to_string(), std::sync::Arc::new(Soft(key))).expect("agent");
        let link = parse_enroll_link(env.enrollment_uri("GAD-002")).expect("link");
        assert_eq!(link.host, "127.0.0.1");
        let p = agent.preview_enrollment(link.uri.clone()).expect("preview");
        assert_eq!(
            (
                p.officer_id.as_str(),
                p.officer_name.as_str(),
                p.department.as_str()
            ),
            ("GAD-002", "B. Patel", "GAD")
        );
        assert_eq!(p.department_name, "General Administration Department");
        assert_eq!(p.server, link.server);
        assert!(p.expires_at > pramaan_core::times::now());
        let token = pramaan_core::enroll_uri::EnrollmentUri::parse(&link.uri)
            .expect("canonical")
            .token;
        assert_eq!(env.cancel_enrollment_token(&token).status, 200);
        match agent.preview_enrollment(link.uri) {
            Err(ApiError::Rejected { status, code, .. }) => {
                assert_eq!((status, code.as_str()), (410, "token_cancelled"))
            }
            other => panic!("a cancelled token must be refused: {other:?}"),
        }
        assert!(!dir.exists(), "a preview writes nothing");
    }

    #[test]
    fn bad_links_say_why_without_the_token() {
        for text in [
            "http://h.example/enroll?v=1".to_string(),
            "pramaan://enroll?v=1&server=https://a&token=SeCrEt&pin=AAAA".to_string(),
            "x".repeat(5000),
        ] {
            match parse_enroll_link(text.clone()) {
                Err(ApiError::InvalidInput { detail }) => {
                    assert!(!detail.is_empty());
                    assert!(!detail.contains("SeCrEt"), "{detail}");
                }
                other => panic!("{text:.40}: {other:?}"),
            }
        }
    }
}
