//! Text that crosses a trust boundary and lands where characters have power: a terminal
//! (escape sequences clear the screen or print a forged line), a spreadsheet (a cell
//! starting with `=` is a formula) or a reader's eye (a bidirectional override shows
//! `gujarat.gov.in` for another domain).
//!
//! Why one module: the server refuses such characters in what a device claims, the
//! command line escapes them before a terminal sees them, and every CSV writer neutralizes
//! formula cells; one definition of "unsafe" keeps the three in step.

use std::borrow::Cow;

/// Whether `c` must never reach a terminal or a report unescaped: C0 and C1 control
/// characters (tab and newline included: no claim or registry field is multi-line), DEL,
/// the bidirectional formatting characters (embeddings, overrides, isolates and the marks
/// that steer them) and the Unicode line and paragraph separators.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'              // ARABIC LETTER MARK
            | '\u{200E}' | '\u{200F}' // LEFT-TO-RIGHT / RIGHT-TO-LEFT MARK
            | '\u{2028}' | '\u{2029}' // LINE / PARAGRAPH SEPARATOR
            | '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
            | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
        )
}

/// The first unsafe character of `s` and its index in characters, if any.
pub fn first_unsafe_char(s: &str) -> Option<(usize, char)> {
    s.chars().enumerate().find(|(_, c)| is_unsafe_char(*c))
}

/// `s` with every unsafe character written as `\u{XXXX}`, so what a terminal shows is
/// exactly what was stored and nothing it can act on. Borrowed when nothing needed
/// escaping (the common case).
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if first_unsafe_char(s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` as a CSV cell that a spreadsheet shows as text: a cell starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return (or their full-width forms, which some spreadsheets
/// also evaluate) gets a leading `'`, as OWASP's CSV-injection guidance says. Unsafe
/// characters inside are escaped as by [`for_terminal`]. Borrowed when unchanged.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let risky = matches!(
        s.chars().next(),
        Some(
            '=' | '+' | '-' | '@' | '\t' | '\r' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}'
        )
    );
    match (risky, for_terminal(s)) {
        (false, escaped) => escaped,
        (true, escaped) => Cow::Owned(format!("'{escaped}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["GAD-001", "Asha Shah", "+919800000001", "ગુજરાત", ""] {
            assert!(matches!(for_terminal(s), Cow::Borrowed(b) if b == s), "{s}");
        }
        assert!(matches!(csv_cell("Asha Shah"), Cow::Borrowed("Asha Shah")));
    }

    #[test]
    fn escape_sequences_and_bidi_overrides_are_escaped() {
        assert_eq!(
            for_terminal("\u{1b}[2J\u{1b}[Hcompliant"),
            "\\u{001B}[2J\\u{001B}[Hcompliant"
        );
        assert_eq!(for_terminal("a\nb\tc\r"), "a\\u{000A}b\\u{0009}c\\u{000D}");
        assert_eq!(
            for_terminal("x@\u{202E}ni.vog.tarajug"),
            "x@\\u{202E}ni.vog.tarajug"
        );
        assert_eq!(for_terminal("\u{9b}31m"), "\\u{009B}31m", "C1 CSI");
        assert_eq!(for_terminal("a\u{2066}b\u{2069}"), "a\\u{2066}b\\u{2069}");
        assert_eq!(first_unsafe_char("ok\u{7f}"), Some((2, '\u{7f}')));
        assert_eq!(first_unsafe_char("ok"), None);
    }

    #[test]
    fn formula_cells_are_neutralized() {
        for s in [
            "=HYPERLINK(\"x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "\u{FF1D}1",
        ] {
            let cell = csv_cell(s);
            assert!(cell.starts_with('\''), "{s:?} -> {cell:?}");
        }
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell("\t=1"), "'\\u{0009}=1");
    }
}
