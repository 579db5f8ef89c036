//! `pramaan admin renew-cert`: prints what [`pramaan_server::cert_renewal`] did, and what
//! it means for phones and for IT's `--pin` / `--ca` clients.
//!
//! Why the output spells it out: a same-key renewal changes nothing anyone holds (the pin
//! is the key's), while a key change asks IT to update `--pin`/`PRAMAAN_PIN` on a date,
//! and a new local CA (a directory made before the CA key was kept) asks `--ca` users for
//! the new `tls/ca.pem`.

use std::path::PathBuf;

use clap::Args;
use pramaan_core::encoding::b64url;
use pramaan_core::times::rfc3339;
use pramaan_server::cert_renewal;
use pramaan_server::server::Paths;

use super::{CliError, CliResult};

/// `pramaan admin renew-cert` options.
#[derive(Debug, Args)]
pub struct RenewCertArgs {
    /// The server's data directory.
    #[arg(long, env = "PRAMAAN_DATA")]
    data: PathBuf,
    /// Days the new certificate is valid (at most 825).
    #[arg(long, default_value_t = pramaan_server::tls::LEAF_DAYS)]
    days: u32,
    /// Make a new key (a new pin) instead of renewing with the current one: staged in
    /// tls/next/ and served from the end of --transition.
    #[arg(long)]
    new_key: bool,
    /// With --new-key: how long phones have to learn the new pin before it is served
    /// (e.g. 30d; at least 14d). A phone that does not check in meanwhile must be
    /// enrolled again.
    #[arg(long, value_name = "DURATION", requires = "new_key")]
    transition: Option<String>,
}

/// Runs `pramaan admin renew-cert`.
pub fn run(args: RenewCertArgs) -> CliResult {
    let paths = Paths::new(&args.data);
    let err = |e: cert_renewal::CertError| CliError::new(e.to_string());
    if !args.new_key {
        let r = cert_renewal::renew(&paths, args.days).map_err(err)?;
        outln!("Renewed {} with the same key.", paths.cert().display());
        outln!(
            "Valid until:  {} (was {})",
            rfc3339(r.not_after),
            rfc3339(r.previous_not_after)
        );
        outln!(
            "SPKI pin:     {} (unchanged: phones need nothing)",
            b64url(&r.pin)
        );
        print_new_ca(&paths, r.new_ca);
        outln!("Running servers on this directory serve it within seconds, no restart.");
        return Ok(());
    }
    let transition = args.transition.as_deref().ok_or_else(|| {
        CliError::new(format!(
            "--new-key needs --transition DURATION (e.g. --transition 30d, at least {}d): the \
             time phones have to learn the new pin",
            cert_renewal::MIN_TRANSITION_DAYS
        ))
    })?;
    let secs = cert_renewal::parse_duration(transition).map_err(err)?;
    cert_renewal::check_transition(secs).map_err(err)?;
    let at = pramaan_server::api::now().saturating_add(secs);
    let s = cert_renewal::stage_new_key(&paths, at, args.days).map_err(err)?;
    outln!(
        "Staged a new TLS key in {}.",
        paths.tls_next_dir().display()
    );
    outln!("New SPKI pin: {}", b64url(&s.pin));
    outln!(
        "Takes over:   {} (Unix {})",
        rfc3339(s.takes_over_at),
        s.takes_over_at
    );
    outln!("Valid until:  {}", rfc3339(s.not_after));
    print_new_ca(&paths, s.new_ca);
    outln!();
    outln!(
        "Until then the server keeps its current key and tells every phone that checks in \
         the new pin (in its signed answers). Phones that do not check in before the \
         takeover will show \"ask department IT for a new QR code and enroll again\"."
    );
    outln!(
        "IT and auditors: from {} use --pin {} (or PRAMAAN_PIN). Enrollment QR codes \
         carry the new pin from then on by themselves.",
        rfc3339(s.takes_over_at),
        b64url(&s.pin)
    );
    Ok(())
}

fn print_new_ca(paths: &Paths, new_ca: bool) {
    if new_ca {
        outln!(
            "New local CA: {} (this directory kept no CA key before; it keeps {} from now \
             on). Clients using --ca need the new {} ; --pin clients and phones do not.",
            paths.ca().display(),
            paths.ca_key().display(),
            paths.ca().display()
        );
    }
}
