//! Human formatting for pages: relative times, exact UTC times, dates, thousands separators.

use time::OffsetDateTime;
use time::macros::format_description;

fn datetime(unix: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix).ok()
}

/// `2026-11-23 09:41:07 UTC`, for `title` attributes.
pub fn exact(unix: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    datetime(unix)
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// `23 Nov 2026`.
pub fn date(unix: i64) -> String {
    let fmt = format_description!("[day padding:none] [month repr:short] [year]");
    datetime(unix)
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// `12:03:44`.
pub fn clock(unix: i64) -> String {
    let fmt = format_description!("[hour]:[minute]:[second]");
    datetime(unix)
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// `3 minutes ago`, `in 27 days`, `just now`.
pub fn relative(unix: i64, now: i64) -> String {
    let delta = unix - now;
    let secs = delta.unsigned_abs();
    if secs < 45 {
        return "just now".into();
    }
    let (n, unit) = match secs {
        s if s < 3_600 => (s.div_ceil(60).clamp(1, 59), "minute"),
        s if s < 86_400 => ((s + 1_800) / 3_600, "hour"),
        s if s < 45 * 86_400 => ((s + 43_200) / 86_400, "day"),
        s if s < 365 * 86_400 => ((s + 15 * 86_400) / (30 * 86_400), "month"),
        s => ((s + 182 * 86_400) / (365 * 86_400), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if delta > 0 {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// `1,204`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(NOW - 10, NOW), "just now");
        assert_eq!(relative(NOW - 180, NOW), "3 minutes ago");
        assert_eq!(relative(NOW + 27 * 86_400, NOW), "in 27 days");
        assert_eq!(relative(NOW + 3 * 86_400 - 60, NOW), "in 3 days");
        assert_eq!(relative(NOW - 3_600, NOW), "1 hour ago");
        assert_eq!(relative(NOW - 60 * 86_400, NOW), "2 months ago");
    }

    #[test]
    fn numbers_and_dates() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(88_310_000), "88,310,000");
        assert_eq!(exact(NOW), "2027-01-15 08:00:00 UTC");
        assert_eq!(date(NOW), "15 Jan 2027");
        assert_eq!(clock(NOW), "08:00:00");
    }
}
