//! The agent's side of a server TLS key change (`pramaan admin renew-cert --new-key`,
//! design section 5): which pins it trusts, learning the next one, moving to it, and what
//! the officer is told when the server's key is one it never learnt.
//!
//! Why only from a verified answer: the next pin decides whom the phone will talk to. The
//! agent learns it only from a Receipt or AttestResult whose COSE signature it verified
//! with the server's answer key (an answer it could not verify, or one from a server
//! whose key it does not hold, teaches nothing). Until the takeover it trusts both pins;
//! the first connection that meets the next pin makes it the current pin (saved), and
//! the old one is dropped.
//!
//! Why re-enrolling is allowed after a mismatch: a phone that missed the transition meets
//! a key it cannot trust and can never learn it over TLS. Its recovery is IT's new QR code
//! (which carries the new pin): an enrolled agent normally refuses a second enrollment,
//! but one whose last connection to the same server failed on an unknown key accepts it
//! (as it does after IT revoked it), replacing its enrollment.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::State;
use super::{AgentError, now};
use crate::claims::NextPin;
use crate::enroll_uri::EnrollmentUri;
use crate::transport::{TransportError, Trust, b64url};

/// What the officer is told when the server's key matches no pin this phone trusts.
pub const KEY_CHANGED: &str = "The Pramaan server's key changed and this phone did not check in \
    during the changeover: ask department IT for a new QR code and enroll again";

/// A TLS key change as the agent knows it (kept in `state.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinChange {
    /// The next pin (base64url), from a verified answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// When the server said it takes over, seconds since the Unix epoch (0: none).
    #[serde(default)]
    pub takes_over_at: u64,
    /// When a connection last met a server key matching no trusted pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatch_at: Option<u64>,
}

impl PinChange {
    /// Nothing known (what an older `state.json` reads as).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The pins the agent trusts for its server: the current one, and the next once learnt.
pub fn trust(st: &State) -> Result<Trust, TransportError> {
    let Trust::Pin(current) = Trust::from_pin_b64url(&st.pin)? else {
        return Err(TransportError::BadTrust("state pin".into()));
    };
    match st.pin_change.next.as_deref().map(Trust::from_pin_b64url) {
        Some(Ok(Trust::Pin(next))) => Ok(Trust::Pins(vec![current, next])),
        // A next pin that does not parse was never written by this module: ignored.
        _ => Ok(Trust::Pin(current)),
    }
}

/// After an answer the server gave over a connection that met `peer`: remembers the next
/// pin it announced when `verified` (its signature checked with the server's key), and
/// makes the next pin current once a connection met it.
pub fn after_answer(
    st: &mut State,
    next_pin: Option<&NextPin>,
    verified: bool,
    peer: Option<[u8; 32]>,
) {
    st.pin_change.mismatch_at = None;
    if let Some(peer) = peer
        && st.pin_change.next.as_deref() == Some(b64url(&peer).as_str())
    {
        log::info!(
            "the server now uses its new TLS key {}: it is this phone's pin",
            b64url(&peer)
        );
        st.pin = b64url(&peer);
        st.pin_change.next = None;
        st.pin_change.takes_over_at = 0;
    }
    let Some(next) = next_pin else { return };
    if !verified {
        log::warn!("an answer names a next TLS pin but its signature was not checked: ignored");
        return;
    }
    let Ok(pin) = <[u8; 32]>::try_from(next.pin.as_slice()) else {
        log::warn!("the server's next TLS pin is not 32 bytes: ignored");
        return;
    };
    let pin = b64url(&pin);
    if pin != st.pin && st.pin_change.next.as_deref() != Some(pin.as_str()) {
        log::info!(
            "the server announced its next TLS key {pin}, taking over at {}",
            next.takes_over_at
        );
        st.pin_change.next = Some(pin);
        st.pin_change.takes_over_at = next.takes_over_at;
    }
}

/// The officer's error for `e`: a pin mismatch is recorded (so IT's new QR code may
/// enroll this phone again) and becomes [`AgentError::ServerKeyChanged`].
pub fn on_error(dir: &Path, st: &mut State, e: AgentError) -> AgentError {
    if !matches!(e, AgentError::Transport(TransportError::PinMismatch { .. })) {
        return e;
    }
    log::warn!("the server's TLS key matches no pin this phone trusts");
    st.pin_change.mismatch_at = Some(now());
    if let Err(e) = st.save(dir) {
        return e.into();
    }
    AgentError::ServerKeyChanged
}

/// Whether an enrolled agent may enroll again with IT's new QR code `uri`: its last
/// connection to the server `uri` names met a key it did not trust.
pub fn may_enroll_again(st: &State, uri: &str) -> bool {
    st.pin_change.mismatch_at.is_some()
        && EnrollmentUri::parse(uri).is_ok_and(|u| u.server == st.server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            server: "https://pramaan.example".into(),
            ..crate::agent::state::tests::sample()
        }
    }

    #[test]
    fn a_pin_mismatch_becomes_the_officers_error_and_allows_enrolling_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut st = state();
        let uri = |server: &str| {
            crate::enroll_uri::EnrollmentUri {
                server: server.into(),
                token: "t".into(),
                pin: [3; 32],
            }
            .to_string()
        };
        assert!(!may_enroll_again(&st, &uri("https://pramaan.example")));
        let e = on_error(
            dir.path(),
            &mut st,
            AgentError::Transport(TransportError::PinMismatch {
                expected: "x".into(),
            }),
        );
        assert!(matches!(e, AgentError::ServerKeyChanged), "{e:?}");
        assert!(may_enroll_again(&st, &uri("https://pramaan.example")));
        assert!(!may_enroll_again(&st, &uri("https://elsewhere.example")));
        assert!(!may_enroll_again(&st, "not a uri"));
        let saved = State::load(dir.path()).expect("load").expect("saved");
        assert!(saved.pin_change.mismatch_at.is_some());
        // Other errors pass through unchanged.
        let e = on_error(dir.path(), &mut state(), AgentError::NotEnrolled);
        assert!(matches!(e, AgentError::NotEnrolled));
    }

    #[test]
    fn an_unverified_next_pin_is_ignored_and_a_verified_one_is_trusted_then_current() {
        let mut st = state();
        let next = NextPin {
            pin: vec![2; 32],
            takes_over_at: 99,
        };
        after_answer(&mut st, Some(&next), false, Some([1; 32]));
        assert!(
            st.pin_change.next.is_none(),
            "learnt from an unverified answer"
        );
        assert_eq!(trust(&st).expect("trust"), Trust::Pin([1; 32]));

        after_answer(&mut st, Some(&next), true, Some([1; 32]));
        assert_eq!(st.pin_change.next, Some(b64url(&[2; 32])));
        assert_eq!(
            trust(&st).expect("trust"),
            Trust::Pins(vec![[1; 32], [2; 32]])
        );

        // The first connection that meets the next key makes it current.
        after_answer(&mut st, None, true, Some([2; 32]));
        assert_eq!(st.pin, b64url(&[2; 32]));
        assert!(st.pin_change.is_empty());
        assert_eq!(trust(&st).expect("trust"), Trust::Pin([2; 32]));
    }

    #[test]
    fn a_short_next_pin_is_ignored() {
        let mut st = state();
        let bad = NextPin {
            pin: vec![2; 31],
            takes_over_at: 9,
        };
        after_answer(&mut st, Some(&bad), true, None);
        assert!(st.pin_change.is_empty());
    }
}
