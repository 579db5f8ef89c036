//! Durations as people type them on a command line: `90d`, `12h`, `30m`, `45s`, `2w`.
//!
//! Why one parser: `pramaan admin token --expires-in` and `pramaan enroll-token --ttl`
//! take the same spelling, so they read it with one function and say the same thing
//! about a mistake.

/// A duration that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "\"{given}\" is not a duration: give a whole number and a unit, s, m, h, d or w (e.g. 90d, 12h, 30m)"
)]
pub struct DurationError {
    /// What was given (terminal-safe).
    pub given: String,
}

/// Parses `<number><unit>` (unit `s`, `m`, `h`, `d` or `w`; no unit is refused, so
/// `90` is never read as seconds by mistake) into seconds. Zero and overflowing values are
/// refused.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let err = || DurationError {
        given: crate::text::for_terminal(text).into_owned(),
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| err())?;
    let scale: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(err()),
    };
    n.checked_mul(scale).filter(|&s| s > 0).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_refusals() {
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration(" 12h "), Ok(12 * 3600));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        for bad in [
            "",
            "90",
            "d",
            "-1d",
            "1.5h",
            "1 d",
            "0h",
            "12y",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let e = parse_duration("1\u{1b}[2Jd").expect_err("refused");
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }
}
