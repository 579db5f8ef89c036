//! Text that a client chose, made safe to put in a log line.
//!
//! The server log is read by people and by tools that split it into lines: a device (even
//! one that never authenticated) that gets a newline into a log line can forge a second,
//! official-looking line ("... enrolled device ... for officer ..."), and a terminal escape
//! sequence can rewrite what an operator sees in `journalctl` or `tail`. So every piece of
//! client-controlled text (evidence descriptions with certificate issuer names, a
//! witness request, error text that quotes input) reaches a log only through
//! [`untrusted`]: control characters (newline, carriage return, ESC, DEL, the C1 set) and
//! the Unicode bidirectional overrides are escaped as `\n`, `\u{1b}`..., a backslash is
//! doubled so an escape cannot be faked, and the text is cut at [`MAX_LOG_TEXT_CHARS`]
//! characters (a note of how much was cut says so). One log statement stays one line.

use std::fmt;

/// The most characters of one client-controlled value a log line carries.
pub const MAX_LOG_TEXT_CHARS: usize = 300;

/// `text` as it may appear in a log line: see the module documentation.
pub fn untrusted(text: &str) -> Untrusted<'_> {
    Untrusted(text)
}

/// Client-controlled text, displayed escaped and bounded ([`untrusted`]).
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<'a>(&'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.char_indices();
        for (_, c) in chars.by_ref().take(MAX_LOG_TEXT_CHARS) {
            if needs_escape(c) {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        if let Some((at, _)) = chars.next() {
            write!(f, "... ({} more bytes)", self.0.len() - at)?;
        }
        Ok(())
    }
}

/// Control characters, the backslash (so `\n` in the output always means an escape) and
/// the bidirectional formatting characters that reorder what a terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}'
        )
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_terminal_escapes_stay_on_one_line() {
        let forged =
            "CN=Evil\n[2026-11-29T03:00:00Z INFO pramaan_server] enrolled device x\r\x1b[2K";
        let shown = untrusted(forged).to_string();
        assert!(!shown.contains('\n') && !shown.contains('\r') && !shown.contains('\x1b'));
        assert_eq!(
            shown,
            "CN=Evil\\n[2026-11-29T03:00:00Z INFO pramaan_server] enrolled device x\\r\\u{1b}[2K"
        );
    }

    #[test]
    fn a_backslash_and_bidi_overrides_are_escaped_and_plain_text_is_unchanged() {
        assert_eq!(untrusted("a\\nb").to_string(), "a\\\\nb");
        assert_eq!(
            untrusted("x\u{202E}y\u{2066}").to_string(),
            "x\\u{202e}y\\u{2066}"
        );
        assert_eq!(untrusted("\u{85}\u{7f}").to_string(), "\\u{85}\\u{7f}");
        let plain = "TEE, verified boot, app gov.gujarat.pramaan, ગુજરાત";
        assert_eq!(untrusted(plain).to_string(), plain);
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_says_so() {
        let long = "ગ".repeat(MAX_LOG_TEXT_CHARS + 10);
        let shown = untrusted(&long).to_string();
        let kept = "ગ".repeat(MAX_LOG_TEXT_CHARS);
        assert_eq!(shown, format!("{kept}... ({} more bytes)", 10 * "ગ".len()));
        let exact = "a".repeat(MAX_LOG_TEXT_CHARS);
        assert_eq!(untrusted(&exact).to_string(), exact);
    }
}
