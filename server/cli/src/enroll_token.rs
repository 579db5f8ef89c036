//! `pramaan enroll-token --officer ID [--ttl 2h] [--png FILE]`: a one-time enrollment
//! token; `pramaan enroll-token list [--department D] [--all]` and `pramaan enroll-token
//! cancel ID`: the tokens not used yet, and withdrawing one (a QR code printed for the
//! wrong officer, or lost).
//!
//! Department IT hands each officer a `pramaan://enroll?...` URI bound to them; the phone
//! scans it. So this prints the URI (first line of stdout, for scripts), when it expires,
//! and the same URI as a QR code drawn with Unicode half blocks that a phone camera reads
//! straight off a terminal; `--png` also writes it as an image for printing or mailing.
//! The URI is a secret until used (whoever scans it first enrolls as that officer): it is
//! shown to the one who asked for it, never logged.
//!
//! The PNG is captioned under the code with the officer (id and name) and the expiry in
//! IST, ISO 8601: a printed QR code handed out of a stack must say whose it is and until
//! when it works. The caption is drawn with the 8x8 bitmap font of `font8x8` (its ASCII
//! table; other characters show as `?`), below the code's quiet zone, so the code itself
//! is the same image as without a caption.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use pramaan_core::api::{
    EnrollTokenInfo, EnrollTokenList, EnrollTokenRequest, EnrollTokenResponse,
};
use pramaan_core::text::for_terminal;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::client::{ServerArgs, encode};
use super::{CliError, CliResult};

/// `pramaan enroll-token`: issue one (`--officer ID`), or `list` / `cancel ID`.
///
/// The server options are global, so they may stand before or after `list` / `cancel`
/// and come from the same environment variables either way.
#[derive(Debug, Args)]
#[command(
    subcommand_negates_reqs = true,
    mut_arg("server", |a| a.global(true).required(false)),
    mut_arg("token", |a| a.global(true).required(false)),
    mut_arg("ca", |a| a.global(true)),
    mut_arg("pin", |a| a.global(true))
)]
pub struct EnrollTokenCmd {
    /// List or cancel tokens instead of issuing one.
    #[command(subcommand)]
    pub action: Option<EnrollTokenAction>,
    /// Officer the token is for (officer_id in the registry).
    #[arg(long, value_name = "ID", required = true)]
    pub officer: Option<String>,
    /// How long the token stays valid: 5m to 30d, e.g. 2h, 3d (default: the server's
    /// enrollment_token_ttl_secs, 72 hours unless changed).
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
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

/// `pramaan enroll-token list|cancel`.
#[derive(Debug, Subcommand)]
pub enum EnrollTokenAction {
    /// Outstanding tokens (unused, uncancelled, unexpired), newest first; with --all,
    /// every token and its state (used, expired, cancelled).
    List {
        /// The department (IT: its own by default; auditors and admins: every one).
        #[arg(long)]
        department: Option<String>,
        /// Also used, expired and cancelled tokens.
        #[arg(long)]
        all: bool,
    },
    /// Cancel an outstanding token: it can no longer enroll a phone (recorded in the
    /// audit log).
    Cancel {
        /// The token's id (16 hex digits, as `list` shows).
        id: String,
    },
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

/// The QR code of `text` as an image (at least 400x400 pixels, quiet zone included).
pub fn qr_image(text: &str) -> Result<image::GrayImage, CliError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|e| CliError::new(format!("cannot make a QR code: {e}")))?;
    Ok(code
        .render::<image::Luma<u8>>()
        .min_dimensions(400, 400)
        .build())
}

/// Scale of the caption's 8x8 glyphs (16 pixels a character: legible when printed).
const CAPTION_SCALE: u32 = 2;
/// Space around and between caption lines, pixels.
const CAPTION_GAP: u32 = 8;
/// Longest caption line drawn, in characters (a longer one is cut with `...`).
const CAPTION_MAX_CHARS: usize = 48;

/// `qr` with `caption` drawn under it, one line each, black on white, centred; the image
/// is widened (the code centred) when a line is wider than the code.
pub fn captioned(qr: &image::GrayImage, caption: &[String]) -> image::GrayImage {
    let glyph = 8 * CAPTION_SCALE;
    let lines: Vec<Vec<u8>> = caption.iter().map(|l| caption_bytes(l)).collect();
    let widest = lines.iter().map(Vec::len).max().unwrap_or(0);
    let text_width = u32::try_from(widest).unwrap_or(0) * glyph + 2 * CAPTION_GAP;
    let width = qr.width().max(text_width);
    let rows = u32::try_from(lines.len()).unwrap_or(0);
    let height = qr.height() + rows * (glyph + CAPTION_GAP) + CAPTION_GAP;
    let mut img = image::GrayImage::from_pixel(width, height, image::Luma([255]));
    let left = (width - qr.width()) / 2;
    for (x, y, p) in qr.enumerate_pixels() {
        img.put_pixel(left + x, y, *p);
    }
    let mut top = qr.height();
    for line in &lines {
        let line_width = u32::try_from(line.len()).unwrap_or(0) * glyph;
        let mut x0 = (width - line_width) / 2;
        for &b in line {
            let rows = font8x8::legacy::BASIC_LEGACY[usize::from(b)];
            for (gy, bits) in (0u32..).zip(rows) {
                for gx in 0..8u32 {
                    if bits & (1 << gx) == 0 {
                        continue;
                    }
                    for dy in 0..CAPTION_SCALE {
                        for dx in 0..CAPTION_SCALE {
                            img.put_pixel(
                                x0 + gx * CAPTION_SCALE + dx,
                                top + gy * CAPTION_SCALE + dy,
                                image::Luma([0]),
                            );
                        }
                    }
                }
            }
            x0 += glyph;
        }
        top += glyph + CAPTION_GAP;
    }
    img
}

/// A caption line as the font's ASCII codes: printable ASCII kept, anything else `?`,
/// cut to [`CAPTION_MAX_CHARS`].
fn caption_bytes(line: &str) -> Vec<u8> {
    let mut out: Vec<u8> = line
        .chars()
        .map(|c| match u8::try_from(c) {
            Ok(b) if (0x20..0x7f).contains(&b) => b,
            _ => b'?',
        })
        .collect();
    if out.len() > CAPTION_MAX_CHARS {
        out.truncate(CAPTION_MAX_CHARS - 3);
        out.extend_from_slice(b"...");
    }
    out
}

/// The caption of an officer's enrollment QR code: who it is for, and until when.
pub fn caption(officer_id: &str, name: Option<&str>, expires: u64) -> Vec<String> {
    let who = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("{officer_id} {n}"),
        None => officer_id.to_string(),
    };
    vec![who, format!("valid until {}", ist(expires))]
}

/// A time (Unix seconds) in ISO 8601 at India Standard Time (`+05:30`), as officers read
/// it; RFC 3339 UTC if the offset cannot be applied.
pub fn ist(secs: u64) -> String {
    let ist = time::UtcOffset::from_hms(5, 30, 0).ok();
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .zip(ist)
        .and_then(|(t, off)| {
            t.to_offset(off)
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map(|t| format!("{t} IST"))
        .unwrap_or_else(|| rfc3339(secs))
}

/// Writes the QR code of `text` as a PNG, `caption` under it.
pub fn write_png(text: &str, caption: &[String], path: &Path) -> Result<(), CliError> {
    let img = captioned(&qr_image(text)?, caption);
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))
}

pub use pramaan_core::times::{rfc3339, rfc3339_opt};

/// Runs `pramaan enroll-token`.
pub fn run(cmd: EnrollTokenCmd) -> CliResult {
    match (&cmd.action, &cmd.officer) {
        (Some(EnrollTokenAction::List { department, all }), _) => {
            list(department.as_deref(), *all, &cmd.server)
        }
        (Some(EnrollTokenAction::Cancel { id }), _) => cancel(id, &cmd.server),
        (None, Some(officer)) => run_issue(officer, &cmd),
        (None, None) => Err(CliError::new(
            "give --officer ID to issue a token, or `list` / `cancel ID`",
        )),
    }
}

fn list(department: Option<&str>, all: bool, server: &ServerArgs) -> CliResult {
    let client = server.client()?;
    let mut query = Vec::new();
    if let Some(d) = department {
        query.push(format!("department={}", super::client::encode(d)));
    }
    if all {
        query.push("all=true".to_string());
    }
    let path = if query.is_empty() {
        "/v1/enrollment-tokens".to_string()
    } else {
        format!("/v1/enrollment-tokens?{}", query.join("&"))
    };
    let list: EnrollTokenList = super::client::typed(&path, client.get_json(&path)?)?;
    outln!(
        "ID                STATE        OFFICER          DEPARTMENT  ISSUED                BY               EXPIRES"
    );
    for t in &list.tokens {
        print_row(t);
    }
    if list.tokens.is_empty() {
        eprintln!(
            "no {}enrollment tokens",
            if all { "" } else { "outstanding " }
        );
    }
    Ok(())
}

fn print_row(t: &EnrollTokenInfo) {
    let state = match (&t.cancelled_at, &t.cancelled_by) {
        (Some(_), Some(by)) => format!("{} by {}", t.state.as_str(), for_terminal(by)),
        _ => t.state.as_str().to_string(),
    };
    outln!(
        "{:<17} {:<12} {:<16} {:<11} {:<21} {:<16} {}{}",
        for_terminal(&t.id),
        state,
        for_terminal(&t.officer_id),
        for_terminal(&t.department),
        rfc3339(t.created_at),
        for_terminal(&t.created_by),
        rfc3339(t.expires),
        if t.allow_additional {
            "  (may enroll a second device)"
        } else {
            ""
        }
    );
}

fn cancel(id: &str, server: &ServerArgs) -> CliResult {
    let id = id.trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CliError::new(format!(
            "\"{}\" is not an enrollment token id (16 hex digits, as `pramaan enroll-token list` shows)",
            for_terminal(id)
        )));
    }
    let client = server.client()?;
    let path = format!("/v1/enrollment-tokens/{id}/cancel");
    let t: EnrollTokenInfo = client.post_typed(&path, &serde_json::json!({}))?;
    outln!(
        "enrollment token {} of officer {} cancelled: it can no longer enroll a phone",
        for_terminal(&t.id),
        for_terminal(&t.officer_id)
    );
    Ok(())
}

fn run_issue(officer: &str, cmd: &EnrollTokenCmd) -> CliResult {
    let ttl_secs = cmd
        .ttl
        .as_deref()
        .map(|t| {
            pramaan_core::duration::parse_duration(t)
                .map_err(|e| e.to_string())
                .and_then(pramaan_core::api::check_enroll_token_ttl)
                .map_err(|e| CliError::new(format!("--ttl: {e}")))
        })
        .transpose()?;
    let client = cmd.server.client()?;
    let answer: EnrollTokenResponse = client.post_typed(
        "/v1/enrollment-tokens",
        &EnrollTokenRequest {
            officer_id: officer.to_string(),
            allow_additional: cmd.allow_second_device,
            ttl_secs,
        },
    )?;
    let uri = answer.uri.as_str();
    outln!("{uri}");
    outln!("expires {}", rfc3339(answer.expires));
    if !cmd.no_qr {
        outln!("{}", terminal_qr(uri)?);
    }
    if !answer.id.is_empty() {
        eprintln!(
            "token id {} (`pramaan enroll-token cancel {}` withdraws it)",
            for_terminal(&answer.id),
            for_terminal(&answer.id)
        );
    }
    if let Some(png) = &cmd.png {
        // The officer's name for the caption; the id alone if it cannot be read.
        let name = client
            .get_json(&format!("/v1/officers/{}", encode(&answer.officer_id)))
            .ok()
            .and_then(|v| v["officer"]["name"].as_str().map(str::to_string));
        let caption = caption(&answer.officer_id, name.as_deref(), answer.expires);
        write_png(uri, &caption, png)?;
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
        let cap = caption("GAD-014", Some("Asha Shah"), 1_790_000_000);
        assert!(write_png(uri, &cap, &path).is_ok());
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        let img = image::open(&path).map_err(|e| e.to_string());
        assert!(img.is_ok_and(|i| i.width() >= 400));
    }

    #[test]
    fn png_caption_names_the_officer_and_expiry_under_an_unchanged_code() {
        let uri = "pramaan://enroll?v=1&server=https%3A%2F%2Flocalhost%3A8443&token=abc&pin=def";
        let cap = caption("GAD-014", Some("Asha Shah"), 1_790_000_000);
        assert_eq!(cap[0], "GAD-014 Asha Shah");
        assert_eq!(cap[1], "valid until 2026-09-21T19:43:20+05:30 IST");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("qr.png");
        assert!(write_png(uri, &cap, &path).is_ok());
        let png = image::open(&path)
            .map(|i| i.to_luma8())
            .unwrap_or_else(|e| panic!("{e}"));
        let qr = qr_image(uri).unwrap_or_else(|e| panic!("{e}"));
        // Two caption lines of 16-pixel glyphs below the code; wide enough for the
        // longer line, the code centred.
        assert_eq!(png.height(), qr.height() + 2 * (16 + 8) + 8);
        assert!(png.width() >= qr.width());
        assert!(png.width() >= 41 * 16, "{}", png.width());
        let left = (png.width() - qr.width()) / 2;
        // The code is pixel for pixel the code without a caption.
        assert!(
            qr.enumerate_pixels()
                .all(|(x, y, p)| png.get_pixel(left + x, y) == p),
            "the QR code is changed by its caption"
        );
        // Each caption line has ink, and as much as its glyphs have.
        let ink = |top: u32| {
            (top..top + 16)
                .flat_map(|y| (0..png.width()).map(move |x| (x, y)))
                .filter(|&(x, y)| png.get_pixel(x, y).0[0] == 0)
                .count()
        };
        let glyph_ink = |s: &str| -> usize {
            caption_bytes(s)
                .iter()
                .map(|&b| {
                    font8x8::legacy::BASIC_LEGACY[usize::from(b)]
                        .iter()
                        .map(|r| r.count_ones() as usize)
                        .sum::<usize>()
                })
                .sum::<usize>()
                * 4
        };
        assert_eq!(ink(qr.height()), glyph_ink(&cap[0]));
        assert_eq!(ink(qr.height() + 24), glyph_ink(&cap[1]));
        assert!(ink(qr.height()) > 0);
        // Characters the font lacks become '?', long lines are cut.
        assert_eq!(caption_bytes("ગુ x"), b"?? x".to_vec());
        assert_eq!(caption_bytes(&"x".repeat(60)).len(), CAPTION_MAX_CHARS);
        assert_eq!(caption("GAD-1", None, 0)[0], "GAD-1");
    }

    #[test]
    fn expiry_is_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
