//! The enrollment preview (design section 5 item 1): before enrolling, the app asks the
//! server whom the scanned token enrolls and shows the officer's name and department, so
//! an officer who scanned a colleague's QR code (or a forged one) stops before a device
//! key is bound to the wrong person.
//!
//! Why apart from [`Agent::enroll`]: the preview is read-only on both sides. The server
//! consumes nothing and logs nothing; the agent writes nothing to its state directory
//! (not even the directory itself), so an officer can scan, read and walk away. It uses
//! the same pinned transport as enrollment: the answer is trusted because the TLS key
//! matched the link's pin, exactly as the enrollment receipt is.

use crate::claims::{self, EnrollPreview, EnrollPreviewRequest};
use crate::enroll_uri::EnrollmentUri;
use crate::transport::{HttpsClient, Trust};

use super::{Agent, AgentError, State, rejected};

/// The server's path for the preview.
pub const PREVIEW_PATH: &str = "/v1/enroll/preview";

/// Whom an enrollment token enrolls, as the server answered, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentPreview {
    /// The server's answer (officer and department, token expiry).
    pub preview: EnrollPreview,
    /// The server the link names (`https://host[:port][/base]`).
    pub server: String,
}

impl Agent {
    /// Asks the server named in `uri` what its token is for, without enrolling: nothing
    /// is consumed on the server and nothing is written here. Refused like
    /// [`Agent::enroll`]: a bad link ([`AgentError::Uri`]), an enrolled device that IT
    /// did not revoke ([`AgentError::AlreadyEnrolled`]), a token the server will not enroll (unknown,
    /// used, expired, cancelled: [`AgentError::Rejected`] with the server's code).
    pub fn preview_enrollment(&self, uri: &str) -> Result<EnrollmentPreview, AgentError> {
        if let Some(st) = State::load(&self.dir)?
            && st.revoked.is_none()
        {
            return Err(AgentError::AlreadyEnrolled(st.device_id));
        }
        let uri = EnrollmentUri::parse(uri)?;
        let client = HttpsClient::new(&uri.server, Trust::Pin(uri.pin), self.options.clone())?;
        let body = claims::encode(&EnrollPreviewRequest {
            token: uri.token.trim().to_string(),
        });
        let resp = client.post(PREVIEW_PATH, "application/cbor", &body)?;
        if !resp.is_success() {
            return Err(rejected(&resp));
        }
        let preview: EnrollPreview = claims::decode(&resp.body)
            .map_err(|e| AgentError::BadAnswer(format!("enrollment preview: {e}")))?;
        // Shown to the officer as is: nothing that steers a screen's text.
        preview
            .check_text()
            .map_err(|e| AgentError::BadAnswer(format!("enrollment preview: {e}")))?;
        log::info!(
            "enrollment preview: officer {} ({})",
            preview.officer_id,
            preview.department
        );
        Ok(EnrollmentPreview {
            preview,
            server: uri.server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SoftwareSigner;
    use crate::transport;
    use std::sync::Arc;

    #[test]
    fn a_preview_that_fails_writes_nothing() {
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("state");
        let signer = Arc::new(SoftwareSigner::generate().expect("key"));
        let options = transport::Options {
            attempts: 1,
            connect_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        };
        let agent = Agent::open_with(&dir, signer, options).expect("open");
        // Nothing listens on port 1.
        let uri = EnrollmentUri {
            server: "https://127.0.0.1:1".into(),
            token: "tok".into(),
            pin: [9; 32],
        }
        .to_string();
        let err = agent.preview_enrollment(&uri).expect_err("unreachable");
        assert!(err.is_transient(), "{err}");
        assert!(matches!(
            agent.preview_enrollment("https://h.example/enrollx?v=1"),
            Err(AgentError::Uri(_))
        ));
        assert!(!dir.exists(), "the state directory is not even created");
    }

    #[test]
    fn an_enrolled_device_is_told_so_before_any_contact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = super::super::state::tests::sample();
        st.save(dir.path()).expect("save");
        let signer = Arc::new(SoftwareSigner::generate().expect("key"));
        let agent = Agent::open(dir.path(), signer).expect("open");
        let uri = EnrollmentUri {
            server: "https://127.0.0.1:1".into(),
            token: "tok".into(),
            pin: [9; 32],
        }
        .to_string();
        assert!(matches!(
            agent.preview_enrollment(&uri),
            Err(AgentError::AlreadyEnrolled(id)) if id == st.device_id
        ));
    }
}
