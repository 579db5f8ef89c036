//! What the officer can do about each failure: one remediation hint per kind of failure.
//!
//! Why here, next to the rules: a failure says what is wrong ("handle +919800000101 is
//! not on IT's roster of the WhatsApp group gad-officers"); the officer needs the next
//! step ("ask IT to add +919800000101 to the roster of group gad-officers on WhatsApp").
//! The agent, the phone library, `pramaan device` and the server's views all take that
//! step from [`remedy`], so the same failure reads the same everywhere.
//!
//! A [`Failure`] carries its rule and an English detail, not a machine-readable kind
//! (the wire and the audit log keep that shape). [`FailureKind::of`] therefore reads the
//! detail written by [`rules`](super::rules) and [`evidence`](super::evidence); a test
//! produces every failure those modules write and checks each one is recognised, so a
//! change of wording there fails the build's tests rather than silently losing a hint. A
//! detail it does not recognise (a newer server's) still gets its rule's general hint.

use crate::model::{Failure, Platform, Policy, Rule};

/// The hint when the device must enroll (again): not enrolled, revoked, or every device
/// of the officer revoked.
pub const NEW_QR_CODE: &str = "ask IT for a new QR code and enroll this phone with it";

/// The hint when the server no longer accepts this app's protocol version
/// ([`crate::api::RejectCode::ProtocolOutdated`]).
pub const UPDATE_APP: &str = "update Pramaan from the app store, then check in again";

/// The hint when the server has not heard from the device for too long.
pub const CHECK_IN: &str = "open Pramaan and check in";

/// The kinds of failure the rules report, each with its own next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// R1: an account on a domain that is not the department's.
    PrivateEmail,
    /// R1: a reported account that is not an email address.
    NotAnEmail,
    /// R1: the registry's official email is not on the device.
    OfficialEmailMissing,
    /// R2: an entitled officer has no device enrolled.
    NotEnrolled,
    /// R2: every enrolled device of the officer is revoked.
    AllRevoked,
    /// R2: enrolled but never checked in.
    NeverCheckedIn,
    /// R2: the last check-in is older than the policy's window.
    Stale,
    /// R2: the recent check-ins were all offline deliveries.
    OfflineOnly,
    /// R2: this device is not the phone model the registry records.
    OtherModel,
    /// R2: the policy does not accept this kind of device as the official phone.
    PlatformNotAccepted,
    /// R2: the hardware evidence is older than the policy allows.
    EvidenceOld,
    /// R2: the platform evidence does not prove the official phone.
    NotOfficialPhone,
    /// R3: no sanctioned messaging app is installed.
    NoApp,
    /// R3: the app is installed but not signed by its publisher.
    RepackagedApp,
    /// R4: not a member of a department group.
    NotMember,
    /// R4: a membership without a handle IT's roster could confirm.
    NoHandle,
    /// R4: the handle is not on IT's roster of the group.
    NotOnRoster,
    /// R5: no screen lock.
    NoScreenLock,
    /// R5: the device key is not shown to be hardware-backed (policy accepts it, warns).
    SoftwareKey,
    /// A detail this version does not know: the rule's general hint.
    Other(Rule),
}

impl FailureKind {
    /// Every kind the rules report ([`FailureKind::Other`] aside).
    pub const ALL: [FailureKind; 19] = [
        FailureKind::PrivateEmail,
        FailureKind::NotAnEmail,
        FailureKind::OfficialEmailMissing,
        FailureKind::NotEnrolled,
        FailureKind::AllRevoked,
        FailureKind::NeverCheckedIn,
        FailureKind::Stale,
        FailureKind::OfflineOnly,
        FailureKind::OtherModel,
        FailureKind::PlatformNotAccepted,
        FailureKind::EvidenceOld,
        FailureKind::NotOfficialPhone,
        FailureKind::NoApp,
        FailureKind::RepackagedApp,
        FailureKind::NotMember,
        FailureKind::NoHandle,
        FailureKind::NotOnRoster,
        FailureKind::NoScreenLock,
        FailureKind::SoftwareKey,
    ];

    /// Recognises the failure from its rule and the detail the rules wrote.
    pub fn of(f: &Failure) -> FailureKind {
        let d = f.detail.as_str();
        match f.rule {
            Rule::R1 if d.starts_with("reported account ") => FailureKind::NotAnEmail,
            Rule::R1 if d.starts_with("the registry email ") => FailureKind::OfficialEmailMissing,
            Rule::R1 if d.contains(" is not on a government domain") => FailureKind::PrivateEmail,
            Rule::R2 if d.starts_with("entitled to the government-funded phone but no device") => {
                FailureKind::NotEnrolled
            }
            Rule::R2 if d.starts_with("every enrolled device") => FailureKind::AllRevoked,
            Rule::R2 if d.contains("has not checked in yet") => FailureKind::NeverCheckedIn,
            Rule::R2 if d.starts_with("last check-in ") => FailureKind::Stale,
            Rule::R2 if d.starts_with("no fresh server challenge") => FailureKind::OfflineOnly,
            Rule::R2 if d.starts_with("the registry records the government-funded phone") => {
                FailureKind::OtherModel
            }
            Rule::R2
                if d.starts_with("this device is the desktop agent")
                    || d.contains("devices are not accepted by the department's policy") =>
            {
                FailureKind::PlatformNotAccepted
            }
            Rule::R2 if d.contains("the hardware evidence is ") && d.contains(" days old") => {
                FailureKind::EvidenceOld
            }
            Rule::R2 if d.starts_with("not proved to be the official phone") => {
                FailureKind::NotOfficialPhone
            }
            Rule::R3 if d.starts_with("no sanctioned messaging app") => FailureKind::NoApp,
            Rule::R3 if d.contains("repackaged") => FailureKind::RepackagedApp,
            Rule::R4 if d.starts_with("not a member of the ") => FailureKind::NotMember,
            Rule::R4 if d.contains("but no handle to check") => FailureKind::NoHandle,
            Rule::R4 if d.contains(" is not on IT's roster of the ") => FailureKind::NotOnRoster,
            Rule::R5 if d.starts_with("no screen lock") => FailureKind::NoScreenLock,
            Rule::R5 if d.starts_with("the device key is not shown to be hardware-backed") => {
                FailureKind::SoftwareKey
            }
            rule => FailureKind::Other(rule),
        }
    }
}

/// Where the officer gets apps on `platform`.
fn store(platform: Platform) -> &'static str {
    match platform {
        Platform::Ios => "the App Store",
        Platform::Android | Platform::Desktop => "the Play Store",
    }
}

/// The policy's group named in `detail` (the longest id found, so `gad` does not shadow
/// `gad-officers`).
fn group_in<'p>(policy: &'p Policy, detail: &str) -> Option<&'p crate::model::GroupSpec> {
    policy
        .groups
        .iter()
        .filter(|g| !g.id.trim().is_empty() && detail.contains(&format!("group {}", g.id.trim())))
        .max_by_key(|g| g.id.len())
}

/// "group gad-officers on WhatsApp", or a general phrase when the group is not found.
fn group_phrase(policy: &Policy, detail: &str) -> String {
    match group_in(policy, detail) {
        Some(g) => format!("group {} on {}", g.id.trim(), g.platform.trim()),
        None => "the department's group".into(),
    }
}

fn domains(policy: &Policy) -> String {
    if policy.email_domains.is_empty() {
        "the department's domain".into()
    } else {
        policy.email_domains.join(", ")
    }
}

/// The sanctioned apps to install, named with where to get them.
fn apps(policy: &Policy) -> String {
    let names: Vec<&str> = policy
        .platforms
        .iter()
        .map(|p| p.name.trim())
        .filter(|n| !n.is_empty())
        .collect();
    match names.as_slice() {
        [] => "the department's messaging app".into(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The text between `start` and `end` in `detail`, trimmed; `None` if either is missing.
fn between<'d>(detail: &'d str, start: &str, end: &str) -> Option<&'d str> {
    let rest = &detail[detail.find(start)? + start.len()..];
    Some(rest[..rest.find(end)?].trim()).filter(|s| !s.is_empty())
}

/// The officer's next step for `failure` under `policy`, on a device of `platform`.
pub fn remedy(failure: &Failure, policy: &Policy, platform: Platform) -> String {
    let d = failure.detail.as_str();
    match FailureKind::of(failure) {
        FailureKind::PrivateEmail => match between(d, "email ", " is not on") {
            Some(email) => format!(
                "remove the account {email} from this phone; only official email ({}) may be on it",
                domains(policy)
            ),
            None => format!(
                "remove private email accounts from this phone; only official email ({}) may be on it",
                domains(policy)
            ),
        },
        FailureKind::NotAnEmail => format!(
            "remove that account from this phone; only official email ({}) may be on it",
            domains(policy)
        ),
        FailureKind::OfficialEmailMissing => match between(d, "the registry email ", " is not") {
            Some(email) => format!("sign in to your official email {email} on this phone"),
            None => format!(
                "sign in to your official email on this phone ({})",
                domains(policy)
            ),
        },
        FailureKind::NotEnrolled | FailureKind::AllRevoked => NEW_QR_CODE.into(),
        FailureKind::NeverCheckedIn | FailureKind::Stale => CHECK_IN.into(),
        FailureKind::OfflineOnly => format!("connect this phone to the internet, then {CHECK_IN}"),
        FailureKind::OtherModel => {
            "use the government-funded phone the registry records, or ask IT to correct the registry"
                .into()
        }
        FailureKind::PlatformNotAccepted => {
            format!("enroll the official phone instead: {NEW_QR_CODE}")
        }
        FailureKind::EvidenceOld => {
            format!("connect this phone to the internet and {CHECK_IN}: it renews the evidence")
        }
        FailureKind::NotOfficialPhone => {
            "this phone could not prove it is the official phone; show IT this message".into()
        }
        FailureKind::NoApp => format!("install {} from {}", apps(policy), store(platform)),
        FailureKind::RepackagedApp => format!(
            "uninstall this copy and install {} from {}",
            apps(policy),
            store(platform)
        ),
        FailureKind::NotMember => format!(
            "join {}; if you cannot, ask IT to add you",
            group_phrase(policy, d)
        ),
        FailureKind::NoHandle => format!(
            "give Pramaan your number or user name in {} so IT's roster can confirm you",
            group_phrase(policy, d)
        ),
        FailureKind::NotOnRoster => match between(d, "handle ", " is not on IT's roster") {
            Some(handle) => format!(
                "ask IT to add {handle} to the roster of {}",
                group_phrase(policy, d)
            ),
            None => format!(
                "ask IT to add you to the roster of {}",
                group_phrase(policy, d)
            ),
        },
        FailureKind::NoScreenLock => {
            "set a screen lock (PIN, pattern or password) in the phone's settings".into()
        }
        FailureKind::SoftwareKey => {
            "nothing to change on this phone; IT counts it as a warning (its key is not shown to be hardware-backed)"
                .into()
        }
        FailureKind::Other(Rule::R1) => format!(
            "keep only official email ({}) on this phone",
            domains(policy)
        ),
        FailureKind::Other(Rule::R2) => "show IT this message".into(),
        FailureKind::Other(Rule::R3) => {
            format!("install {} from {}", apps(policy), store(platform))
        }
        FailureKind::Other(Rule::R4) => format!(
            "join {}, or ask IT to add you",
            group_phrase(policy, d)
        ),
        FailureKind::Other(Rule::R5) => {
            "set a screen lock in the phone's settings".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_toml(
            r#"department = "GAD"
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "WhatsApp"
android_package = "com.whatsapp"
ios_bundle = "net.whatsapp.WhatsApp"
[[groups]]
platform = "WhatsApp"
id = "gad"
[[groups]]
platform = "WhatsApp"
id = "gad-officers"
"#,
        )
        .expect("policy")
    }

    fn hint(rule: Rule, detail: &str, platform: Platform) -> String {
        remedy(
            &Failure {
                rule,
                detail: detail.into(),
            },
            &policy(),
            platform,
        )
    }

    #[test]
    fn the_issue_examples_read_as_asked() {
        assert_eq!(
            hint(
                Rule::R4,
                "handle +919800000101 is not on IT's roster of the WhatsApp group gad-officers",
                Platform::Android
            ),
            "ask IT to add +919800000101 to the roster of group gad-officers on WhatsApp"
        );
        assert_eq!(
            hint(
                Rule::R1,
                "the registry email a.shah@gujarat.gov.in is not among the device's email accounts",
                Platform::Android
            ),
            "sign in to your official email a.shah@gujarat.gov.in on this phone"
        );
        assert_eq!(
            hint(
                Rule::R3,
                "no sanctioned messaging app is installed; the department uses WhatsApp (com.whatsapp)",
                Platform::Android
            ),
            "install WhatsApp from the Play Store"
        );
        assert_eq!(
            hint(
                Rule::R3,
                "no sanctioned messaging app is installed; the department uses WhatsApp (net.whatsapp.WhatsApp)",
                Platform::Ios
            ),
            "install WhatsApp from the App Store"
        );
        assert_eq!(
            hint(
                Rule::R2,
                "last check-in 3 days ago, over the 24 h limit",
                Platform::Ios
            ),
            CHECK_IN
        );
        assert_eq!(
            hint(
                Rule::R2,
                "entitled to the government-funded phone but no device is enrolled",
                Platform::Ios
            ),
            NEW_QR_CODE
        );
    }

    #[test]
    fn unknown_wording_falls_back_to_the_rules_hint() {
        for rule in [Rule::R1, Rule::R2, Rule::R3, Rule::R4, Rule::R5] {
            let f = Failure {
                rule,
                detail: "a newer server's wording".into(),
            };
            assert_eq!(FailureKind::of(&f), FailureKind::Other(rule));
            assert!(!remedy(&f, &policy(), Platform::Android).is_empty());
        }
    }
}
