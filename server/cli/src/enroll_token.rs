//! `pramaan enroll-token --officer ID [--png FILE]`: a one-time enrollment token.
//!
//! Department IT hands each officer a `pramaan://enroll?...` URI bound to them; the phone
//! scans it. So this prints the URI (first line of stdout, for scripts), when it expires,
//! and the same URI as a QR code drawn with Unicode half blocks that a phone camera reads
//! straight off a terminal; `--png` also writes it as an image for printing or mailing.
//! The URI is a secret until used (whoever scans it first enrolls as that officer): it is
//! shown to the one who asked for it, never logged.

use std::path::{Path, PathBuf};

use clap::Args;
use pramaan_core::api::{EnrollTokenRequest, EnrollTokenResponse};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::client::ServerArgs;
use super::{CliError, CliResult};

/// `pramaan enroll-token`.
#[derive(Debug, Args)]
pub struct EnrollTokenCmd {
    /// Officer the token is for (officer_id in the registry).
    #[arg(long, value_name = "ID")]
    pub officer: String,
    /// Also write the QR code as a PNG image to FILE.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Do not draw the QR code in the terminal (the URI is still printed).
    #[arg(long)]
    pub no_qr: bool,
    /// Allow this enrollment although the officer has an active device (a second phone).
    /// Without it the server refuses a second active device: revoke the old one first.
    #[arg(long)]
    pub allow_second_device: bool,
    /// How to reach and trust the server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The QR code of `text` drawn for a terminal (dark modules light, so it reads on a dark
/// background; quiet zone included).
pub fn terminal_qr(text: &str) -> Result<String, CliError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|e| CliError::new(format!("cannot make a QR code: {e}")))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// Writes the QR code of `text` as a PNG (at least 400x400 pixels).
pub fn write_png(text: &str, path: &Path) -> Result<(), CliError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|e| CliError::new(format!("cannot make a QR code: {e}")))?;
    let img = code
        .render::<image::Luma<u8>>()
        .min_dimensions(400, 400)
        .build();
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))
}

pub use pramaan_core::times::{rfc3339, rfc3339_opt};

/// Runs `pramaan enroll-token`.
pub fn run(cmd: EnrollTokenCmd) -> CliResult {
    let client = cmd.server.client()?;
    let answer: EnrollTokenResponse = client.post_typed(
        "/v1/enrollment-tokens",
        &EnrollTokenRequest {
            officer_id: cmd.officer.clone(),
            allow_additional: cmd.allow_second_device,
        },
    )?;
    let uri = answer.uri.as_str();
    outln!("{uri}");
    outln!("expires {}", rfc3339(answer.expires));
    if !cmd.no_qr {
        outln!("{}", terminal_qr(uri)?);
    }
    if let Some(png) = &cmd.png {
        write_png(uri, png)?;
        eprintln!("QR code written to {}", png.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_renders_and_png_is_a_png() {
        let uri = "pramaan://enroll?v=1&server=https%3A%2F%2Flocalhost%3A8443&token=abc&pin=def";
        let qr = terminal_qr(uri).unwrap_or_default();
        assert!(qr.lines().count() > 10, "{qr}");
        assert!(qr.contains('▀') || qr.contains('▄') || qr.contains('█'));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("qr.png");
        assert!(write_png(uri, &path).is_ok());
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        let img = image::open(&path).map_err(|e| e.to_string());
        assert!(img.is_ok_and(|i| i.width() >= 400));
    }

    #[test]
    fn expiry_is_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
