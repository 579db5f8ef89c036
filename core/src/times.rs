//! Times as files and people read them: RFC 3339 (ISO 8601) in UTC.
//!
//! Why one place: the server's CSV exports, the command line's tables and the officer
//! view all print Unix seconds as dates; one formatter keeps them identical, so a time
//! copied from a terminal matches the one in a spreadsheet. JSON answers keep Unix
//! seconds as typed numbers (design section 6); only text meant for reading is formatted.

/// This machine's clock as Unix seconds (0 if it reads before 1970): the one reading of
/// "now" the agent, the server and the command line share.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time, or the number itself when it is outside the
/// calendar's range (a stored value is never dropped from a report).
pub fn rfc3339(secs: u64) -> String {
    rfc3339_opt(secs).unwrap_or_else(|| secs.to_string())
}

/// RFC 3339 UTC of a Unix time; `None` when it is outside the calendar's range.
pub fn rfc3339_opt(secs: u64) -> Option<String> {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

/// Whole days from `since` to `now` (0 when `since` is ahead of `now`).
pub fn age_days(since: u64, now: u64) -> u64 {
    now.saturating_sub(since) / 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_and_keeps_out_of_range_numbers() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(u64::MAX), u64::MAX.to_string());
        assert_eq!(rfc3339_opt(u64::MAX), None);
        assert_eq!(age_days(0, 2 * 86_400 + 5), 2);
        assert_eq!(age_days(10, 5), 0);
    }
}
