//! The reporter: the one voice the crate has on stderr.
//!
//! The worker's own trouble (a failed delivery, Redis away, a panicking
//! hook) is never reported through `tracing`, which would feed back into the
//! layer. It is printed here instead: scrubbed by the sanitizer (so no token
//! or secret reaches a log), one line at a time, and bounded: the same line
//! at most once a minute, with a count of how often it was held back.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::sanitize::Sanitizer;

/// How long the same line is held back after it was printed.
const QUIET_FOR: Duration = Duration::from_secs(60);

/// Most distinct lines remembered; past it, the oldest are forgotten.
const MAX_LINES: usize = 256;

/// Prints the crate's own notices on stderr, sanitized and bounded.
#[derive(Debug)]
pub(crate) struct Reporter {
    sanitizer: Sanitizer,
    lines: Mutex<HashMap<String, Printed>>,
}

/// When a line was last printed, and how often it was held back since.
#[derive(Debug, Clone, Copy)]
struct Printed {
    at: Instant,
    held_back: u64,
}

impl Reporter {
    /// A reporter that scrubs every line with `sanitizer`.
    pub(crate) fn new(sanitizer: Sanitizer) -> Self {
        Reporter {
            sanitizer,
            lines: Mutex::new(HashMap::new()),
        }
    }

    /// Reports a failure to deliver; returns the reason scrubbed (for `Stats`).
    pub(crate) fn delivery_failed(&self, reason: &str) -> String {
        let reason = self.scrub(reason);
        self.print(&format!("could not deliver an alert: {reason}"));
        reason
    }

    /// Reports something that is not a lost alert.
    pub(crate) fn notice(&self, notice: &str) {
        let notice = self.scrub(notice);
        self.print(&notice);
    }

    /// `text` with secrets removed.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.sanitizer.sanitize(text).into_owned()
    }

    fn print(&self, line: &str) {
        if let Some(line) = self.admit(line, Instant::now()) {
            eprintln!("tracing-telegram: {line}");
        }
    }

    /// The line to print for `line` at `now`, or `None` to hold it back.
    fn admit(&self, line: &str, now: Instant) -> Option<String> {
        // A panic elsewhere while the lock was held leaves the map usable.
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(printed) = lines.get_mut(line) {
            if now.saturating_duration_since(printed.at) < QUIET_FOR {
                printed.held_back += 1;
                return None;
            }
            let held_back = std::mem::replace(
                printed,
                Printed {
                    at: now,
                    held_back: 0,
                },
            )
            .held_back;
            return Some(match held_back {
                0 => line.to_owned(),
                n => format!("{line} (and {n} more time(s) in the last minute)"),
            });
        }
        if lines.len() >= MAX_LINES {
            forget_oldest(&mut lines);
        }
        lines.insert(
            line.to_owned(),
            Printed {
                at: now,
                held_back: 0,
            },
        );
        Some(line.to_owned())
    }
}

fn forget_oldest(lines: &mut HashMap<String, Printed>) {
    let oldest = lines
        .iter()
        .min_by_key(|(_, printed)| printed.at)
        .map(|(line, _)| line.clone());
    if let Some(line) = oldest {
        lines.remove(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    #[test]
    fn the_same_line_is_printed_once_a_minute_with_a_count_of_the_rest() {
        let reporter = Reporter::new(Sanitizer::new());
        let start = Instant::now();
        assert_eq!(
            reporter.admit("Redis away", start).as_deref(),
            Some("Redis away")
        );
        for second in 1..=10 {
            let at = start + Duration::from_secs(second);
            assert_eq!(reporter.admit("Redis away", at), None);
        }
        assert_eq!(
            reporter.admit("another line", start).as_deref(),
            Some("another line")
        );
        let later = start + QUIET_FOR;
        assert_eq!(
            reporter.admit("Redis away", later).as_deref(),
            Some("Redis away (and 10 more time(s) in the last minute)")
        );
        assert_eq!(reporter.admit("Redis away", later), None);
    }

    #[test]
    fn lines_are_scrubbed_of_the_token_and_the_memory_is_bounded() {
        let reporter = Reporter::new(Sanitizer::new().with_token(TOKEN));
        let scrubbed = reporter.scrub(&format!("POST /bot{TOKEN}/sendMessage failed"));
        assert!(!scrubbed.contains("AAHdqTcv"), "{scrubbed}");
        let start = Instant::now();
        for n in 0..(MAX_LINES + 50) {
            let at = start + Duration::from_millis(n as u64);
            assert!(reporter.admit(&format!("line {n}"), at).is_some());
        }
        let lines = reporter.lines.lock().unwrap();
        assert_eq!(lines.len(), MAX_LINES);
        assert!(!lines.contains_key("line 0"), "the oldest went first");
    }
}
