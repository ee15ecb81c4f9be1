//! How times and durations read in the chat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `850 µs`, `12.5 ms`, `120 ms`, `1.25 s`, `2 min 5 s`.
pub(crate) fn format_duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 10_000 {
        format!("{:.1} ms", d.as_secs_f64() * 1_000.0)
    } else if micros < 1_000_000 {
        format!("{} ms", d.as_millis())
    } else if d.as_secs() < 60 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// How long ago, or how long a quiet lasted, to the minute: `45 s`,
/// `23 min`, `2 h 10 min`, `3 d 4 h`.
pub(crate) fn format_span(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `2026-11-28 09:01:02 UTC`.
pub(crate) fn format_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(format_duration(Duration::from_micros(2_500)), "2.5 ms");
        assert_eq!(format_duration(Duration::from_millis(120)), "120 ms");
        assert_eq!(format_duration(Duration::from_millis(1_250)), "1.25 s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2 min 5 s");
    }

    #[test]
    fn formats_spans_to_the_minute() {
        assert_eq!(format_span(Duration::from_secs(45)), "45 s");
        assert_eq!(format_span(Duration::from_secs(23 * 60 + 5)), "23 min");
        assert_eq!(format_span(Duration::from_secs(2 * 3_600)), "2 h");
        assert_eq!(format_span(Duration::from_secs(130 * 60)), "2 h 10 min");
        assert_eq!(format_span(Duration::from_secs(76 * 3_600 + 60)), "3 d 4 h");
        assert_eq!(format_span(Duration::from_secs(86_400)), "1 d");
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_856_462);
        assert_eq!(format_utc(t), "2026-11-28 09:01:02 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_utc(leap), "2000-02-29 00:00:00 UTC");
    }
}
