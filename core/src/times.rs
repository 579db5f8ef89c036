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

/// A span of seconds in words, rounded down to its largest unit: `45 seconds`,
/// `1 minute`, `5 minutes`, `2 hours`, `3 days` (what the phone's screens show).
pub fn span(secs: u64) -> String {
    let (n, unit) = match secs {
        0..60 => (secs, "second"),
        60..3_600 => (secs / 60, "minute"),
        3_600..86_400 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// How long ago `since` was, in words: `just now` under a minute (also when `since` is
/// ahead of `now`: a phone's clock can move back), else `5 minutes ago`, `2 hours ago`,
/// `3 days ago`.
pub fn ago(since: u64, now: u64) -> String {
    match now.saturating_sub(since) {
        0..60 => "just now".to_string(),
        secs => format!("{} ago", span(secs)),
    }
}

/// `HH:MM UTC` for a time on `now`'s day, `YYYY-MM-DD HH:MM UTC` otherwise (the number
/// itself outside the calendar's range).
pub fn clock_utc(secs: u64, now: u64) -> String {
    let (Some(t), Some(today)) = (rfc3339_opt(secs), rfc3339_opt(now)) else {
        return secs.to_string();
    };
    match (t.get(..10), t.get(11..16)) {
        (Some(day), Some(hm)) if today.get(..10) == Some(day) => format!("{hm} UTC"),
        (Some(day), Some(hm)) => format!("{day} {hm} UTC"),
        _ => t,
    }
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

    #[test]
    fn spans_and_ages_in_words() {
        assert_eq!(span(0), "0 seconds");
        assert_eq!(span(1), "1 second");
        assert_eq!(span(59), "59 seconds");
        assert_eq!(span(60), "1 minute");
        assert_eq!(span(3_599), "59 minutes");
        assert_eq!(span(3_600), "1 hour");
        assert_eq!(span(86_399), "23 hours");
        assert_eq!(span(86_400), "1 day");
        assert_eq!(span(u64::MAX), format!("{} days", u64::MAX / 86_400));
        assert_eq!(ago(100, 159), "just now");
        assert_eq!(ago(100, 160), "1 minute ago");
        assert_eq!(ago(0, 5 * 60), "5 minutes ago");
        assert_eq!(ago(0, 2 * 3_600 + 59), "2 hours ago");
        assert_eq!(ago(0, 3 * 86_400), "3 days ago");
        assert_eq!(ago(500, 100), "just now", "a clock moved back");
        assert_eq!(ago(0, u64::MAX), format!("{} days ago", u64::MAX / 86_400));
    }

    #[test]
    fn clock_times_name_the_day_only_when_it_is_another() {
        // 2026-11-18T11:06:40Z
        let now = 1_795_000_000;
        assert_eq!(clock_utc(now + 600, now), "11:16 UTC");
        assert_eq!(clock_utc(now + 86_400, now), "2026-11-19 11:06 UTC");
        assert_eq!(clock_utc(u64::MAX, now), u64::MAX.to_string());
    }
}
