//! `pramaan policy set FILE.toml [--department D]`: set a department's policy;
//! `pramaan policy show [--department D] [--format toml|json]`: print the one in force.
//!
//! The file is parsed, resolved against the built-in platform catalog and validated here
//! first with the same core code the server runs, so a typo is reported with its reason
//! before anything is sent; then the file is sent unchanged (the server re-checks it and
//! logs the change). The department comes from the file; `--department` is a guard: when
//! given it must match the file (setting GAD's policy from HD's file by a slip of the
//! finger is refused).
//!
//! `show` prints the policy as the server holds it, platforms resolved from the catalog
//! (packages and signing digests written out): TOML that `policy set` takes back, or JSON.
//! Its strings are escaped for the terminal (a policy is refused with control characters,
//! but one stored before that check is shown, not obeyed).

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use pramaan_core::catalog::Catalog;
use pramaan_core::policy::Policy;

use super::client::{ServerArgs, encode, read_text, typed};
use super::{CliError, CliResult};

/// `pramaan policy set`.
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Set a department's policy from a TOML (or JSON) file: email domains, sanctioned
    /// platforms (a platform given by name alone is filled in from the built-in catalog),
    /// groups, check-in interval. The change is recorded in the audit log.
    Set {
        /// The policy file (design section 6); JSON if it starts with `{`.
        file: PathBuf,
        /// Department the policy is for; must match the file's `department` when given.
        #[arg(long, value_name = "D")]
        department: Option<String>,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print a department's policy as the server holds it (platforms filled in from the
    /// catalog): TOML that `policy set` accepts, or JSON.
    Show {
        /// The department; an IT token's own when omitted (auditors and admins name one).
        #[arg(long, value_name = "D")]
        department: Option<String>,
        /// toml (default) or json.
        #[arg(long, value_enum, default_value_t = ShowFormat::Toml)]
        format: ShowFormat,
        /// How to reach and trust the server.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// How `policy show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// The policy file format (design section 6).
    Toml,
    /// The same fields as JSON.
    Json,
}

/// The policy as `format`, escaped for a terminal.
pub fn render(policy: &Policy, format: ShowFormat) -> Result<String, CliError> {
    match format {
        ShowFormat::Toml => {
            let text = toml::to_string(policy)
                .map_err(|e| CliError::new(format!("cannot write the policy as TOML: {e}")))?;
            // TOML escapes control characters in strings; bidirectional ones pass: each
            // line is escaped on its own, so the file's line structure stays.
            Ok(text
                .lines()
                .map(|l| pramaan_core::text::for_terminal(l).into_owned() + "\n")
                .collect())
        }
        ShowFormat::Json => {
            let v = serde_json::to_value(policy)
                .map_err(|e| CliError::new(format!("cannot write the policy as JSON: {e}")))?;
            Ok(super::out::pretty_json(&v) + "\n")
        }
    }
}

/// Parses and checks the policy text and decides the department it applies to.
pub fn check(text: &str, department: Option<&str>) -> Result<(Policy, &'static str), CliError> {
    let policy =
        Policy::load(text, &Catalog::builtin()).map_err(|e| CliError::new(e.to_string()))?;
    if let Some(d) = department
        && d != policy.department
    {
        return Err(CliError::new(format!(
            "--department {d} does not match the file's department {:?}",
            policy.department
        )));
    }
    let content_type = if text.trim_start().starts_with('{') {
        "application/json"
    } else {
        "application/toml"
    };
    Ok((policy, content_type))
}

/// Runs one `policy` command.
pub fn run(cmd: PolicyCmd) -> CliResult {
    match cmd {
        PolicyCmd::Set {
            file,
            department,
            server,
        } => {
            let text = read_text(&file)?;
            let (policy, content_type) = check(&text, department.as_deref())
                .map_err(|e| CliError::new(format!("{}: {e}", file.display())))?;
            let client = server.client()?;
            let path = format!("/v1/departments/{}/policy", encode(&policy.department));
            client.send("PUT", &path, content_type, text.as_bytes())?;
            let platforms: Vec<&str> = policy.platforms.iter().map(|p| p.name.as_str()).collect();
            let groups: Vec<&str> = policy.groups.iter().map(|g| g.id.as_str()).collect();
            outln!(
                "policy of {} set: platforms [{}], groups [{}], check-in every {} h",
                policy.department,
                platforms.join(", "),
                groups.join(", "),
                policy.check_in_hours
            );
            Ok(())
        }
        PolicyCmd::Show {
            department,
            format,
            server,
        } => {
            let client = server.client()?;
            let path = match &department {
                Some(d) => format!("/v1/policy?department={}", encode(d)),
                None => "/v1/policy".to_string(),
            };
            let policy: Policy = typed(&path, client.get_json(&path)?)?;
            out!("{}", render(&policy, format)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use pramaan_testkit::POLICY_GAD as POLICY;

    #[test]
    fn department_guard_and_content_type() {
        let (p, ct) = check(POLICY, None)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.department, "GAD");
        assert_eq!(ct, "application/toml");
        assert!(
            !p.platforms[0].android_signers.is_empty(),
            "resolved from the catalog"
        );
        assert!(check(POLICY, Some("GAD")).is_ok());
        let err = check(POLICY, Some("HD"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn show_renders_toml_that_loads_back_and_json() {
        let (p, _) = check(POLICY, None).unwrap_or_else(|e| panic!("{e}"));
        let toml = render(&p, ShowFormat::Toml).unwrap_or_else(|e| panic!("{e}"));
        assert!(toml.contains("department = \"GAD\""), "{toml}");
        let back =
            Policy::load(&toml, &Catalog::builtin()).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        assert_eq!(back, p);
        let json = render(&p, ShowFormat::Json).unwrap_or_else(|e| panic!("{e}"));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(v["department"], "GAD");
    }

    #[test]
    fn invalid_policy_is_refused_locally() {
        let err = check("department = \"GAD\"\nemail_domains = []\n", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("email_domains"), "{err}");
        assert!(check("department = \"GAD\"\nemail_domains = [\"x.in\"]\n[[platforms]]\nname = \"NoSuchApp\"\n", None).is_err());
    }
}
