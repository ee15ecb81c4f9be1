//! The line an alert carries about its kind's past: new in this version,
//! or back after it was resolved (and whether that is a regression).

use std::time::{Duration, SystemTime};

use super::time::{format_span, format_utc};

/// A kind back after its alert was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Back<'a> {
    pub(crate) quiet_since: SystemTime,
    /// How long it was quiet.
    pub(crate) after: Duration,
    /// The (newer) version it is back in, if it was resolved in an older one.
    pub(crate) regression: Option<&'a str>,
}

/// `🆕 first seen in 1.4.3`, or `🔁 back after 2 h 10 min (quiet since …)`
/// with `· regression in 1.4.3`; `None` when there is nothing to say.
pub(crate) fn past_line(new_in: Option<&str>, back: Option<&Back<'_>>) -> Option<String> {
    if let Some(back) = back {
        let mut line = format!(
            "🔁 back after {} (quiet since {})",
            format_span(back.after),
            format_utc(back.quiet_since)
        );
        if let Some(version) = back.regression {
            line.push_str(&format!(" · regression in {version}"));
        }
        return Some(line);
    }
    new_in.map(|version| format!("🆕 first seen in {version}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn says_back_with_its_quiet_and_a_regression() {
        let back = Back {
            quiet_since: UNIX_EPOCH + Duration::from_secs(1_795_856_462),
            after: Duration::from_secs(130 * 60),
            regression: Some("1.4.3"),
        };
        assert_eq!(
            past_line(None, Some(&back)).as_deref(),
            Some("🔁 back after 2 h 10 min (quiet since 2026-11-28 09:01:02 UTC) · regression in 1.4.3")
        );
        assert_eq!(
            past_line(Some("1.4.3"), None).as_deref(),
            Some("🆕 first seen in 1.4.3")
        );
        assert_eq!(past_line(None, None), None);
    }
}
