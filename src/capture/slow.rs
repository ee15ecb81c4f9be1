//! Which spans are slow: a default threshold, per-name thresholds, and
//! whether total or busy time is judged.

use std::collections::HashMap;
use std::time::Duration;

use crate::record::SlowSpan;

/// The slow-span configuration, consulted when a span closes.
#[derive(Debug, Clone)]
pub(crate) struct SlowRules {
    /// `false` turns span timing off entirely.
    pub(crate) on: bool,
    /// The threshold of spans that have none by name.
    pub(crate) threshold: Duration,
    /// Thresholds by span name (`None`: never slow).
    pub(crate) by_name: HashMap<String, Option<Duration>>,
    /// Judge time spent entered rather than time from creation to close.
    pub(crate) judge_busy: bool,
}

impl Default for SlowRules {
    fn default() -> Self {
        SlowRules {
            on: true,
            threshold: Duration::from_secs(3),
            by_name: HashMap::new(),
            judge_busy: false,
        }
    }
}

impl SlowRules {
    /// Rules that time nothing (a disabled layer).
    pub(crate) fn off() -> Self {
        SlowRules {
            on: false,
            ..SlowRules::default()
        }
    }

    /// Whether spans are timed at all.
    pub(crate) fn enabled(&self) -> bool {
        self.on
    }

    /// The slow-span verdict for a span named `name` that took
    /// `(total, busy)`; `None` if it was fast enough.
    pub(crate) fn judge(
        &self,
        name: &str,
        (total, busy): (Duration, Duration),
    ) -> Option<SlowSpan> {
        if !self.on {
            return None;
        }
        let threshold = if self.by_name.is_empty() {
            Some(self.threshold)
        } else {
            self.by_name
                .get(name)
                .copied()
                .unwrap_or(Some(self.threshold))
        }?;
        let slow = SlowSpan {
            total,
            busy,
            threshold,
            judged_busy: self.judge_busy,
        };
        (slow.measured() >= threshold).then_some(slow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_name_thresholds_override_the_default() {
        let rules = SlowRules {
            on: true,
            threshold: Duration::from_millis(50),
            by_name: HashMap::from([
                ("export".to_owned(), Some(Duration::from_secs(10))),
                ("poll".to_owned(), None),
            ]),
            judge_busy: false,
        };
        let took = |ms| (Duration::from_millis(ms), Duration::from_millis(1));
        assert!(rules.judge("request", took(120)).is_some());
        assert!(rules.judge("request", took(10)).is_none());
        assert!(rules.judge("export", took(120)).is_none());
        assert!(rules.judge("poll", took(60_000)).is_none());
        let busy = SlowRules {
            judge_busy: true,
            ..rules
        };
        assert!(busy.judge("request", took(120)).is_none(), "mostly waiting");
        assert!(SlowRules::off().judge("request", took(60_000)).is_none());
    }
}
