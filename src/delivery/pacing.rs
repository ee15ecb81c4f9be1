//! Pacing: how fast messages may go to one chat, to a group, and in total.
//!
//! Telegram's limits are not published exactly; its Bot FAQ says about one
//! message per second per chat (short bursts pass), at most 20 messages per
//! minute to a group, and about 30 messages per second overall. Each limit is
//! a sliding window ("at most `max` sends in any `per`"), so a burst can never
//! exceed it at a window's edge the way a token bucket can.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::Error;

/// "At most `max` messages in any window of `per`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Messages allowed per window.
    pub max: u32,
    /// The window's length.
    pub per: Duration,
}

impl Limit {
    /// `max` messages per `per`.
    pub const fn new(max: u32, per: Duration) -> Self {
        Limit { max, per }
    }

    fn validate(self, option: &'static str) -> Result<(), Error> {
        if self.max == 0 || self.per.is_zero() {
            return Err(Error::invalid(
                option,
                &format!("{} per {:?}", self.max, self.per),
                "at least 1 message per non-zero window",
            ));
        }
        Ok(())
    }
}

/// The sending limits the worker keeps (see the module docs).
///
/// ```
/// use std::time::Duration;
/// use tracing_telegram::{Limit, Pacing};
///
/// let pacing = Pacing::default().per_group(Some(Limit::new(10, Duration::from_secs(60))));
/// assert_eq!(Pacing::default(), Pacing::telegram());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    pub(crate) per_chat: Option<Limit>,
    pub(crate) per_group: Option<Limit>,
    pub(crate) global: Option<Limit>,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing::telegram()
    }
}

impl Pacing {
    /// Telegram's documented limits: per chat 3 messages in any 3 s (1/s with
    /// a burst of 3), per group or channel 20 in any 60 s, overall 30 in any
    /// second.
    pub const fn telegram() -> Self {
        Pacing {
            per_chat: Some(Limit::new(3, Duration::from_secs(3))),
            per_group: Some(Limit::new(20, Duration::from_secs(60))),
            global: Some(Limit::new(30, Duration::from_secs(1))),
        }
    }

    /// No pacing at all (benchmarks, a self-hosted Bot API server without
    /// limits). Telegram's 429 answers are still obeyed.
    pub const fn disabled() -> Self {
        Pacing {
            per_chat: None,
            per_group: None,
            global: None,
        }
    }

    /// The limit for any one chat.
    pub fn per_chat(mut self, limit: Option<Limit>) -> Self {
        self.per_chat = limit;
        self
    }

    /// The extra limit for groups, supergroups and channels (negative ids
    /// and `@channel` usernames).
    pub fn per_group(mut self, limit: Option<Limit>) -> Self {
        self.per_group = limit;
        self
    }

    /// The limit over all chats.
    pub fn global(mut self, limit: Option<Limit>) -> Self {
        self.global = limit;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (limit, option) in [
            (self.per_chat, "pacing.per_chat"),
            (self.per_group, "pacing.per_group"),
            (self.global, "pacing.global"),
        ] {
            if let Some(limit) = limit {
                limit.validate(option)?;
            }
        }
        Ok(())
    }
}

/// Added to every wait: a request is stamped here when it leaves, and by
/// Telegram when it arrives, a little later; without a margin, network
/// jitter can make the window look full on Telegram's side.
const SAFETY_MARGIN: Duration = Duration::from_millis(250);

/// The sends of the last window, for one limit.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    limit: Limit,
    sent: VecDeque<Instant>,
    /// Kept on top of the limit's window (see [`SAFETY_MARGIN`]).
    margin: Duration,
}

impl Window {
    /// A window for a sender: with the safety margin.
    pub(crate) fn new(limit: Limit) -> Self {
        Window {
            limit,
            sent: VecDeque::with_capacity(limit.max as usize),
            margin: SAFETY_MARGIN,
        }
    }

    /// A window exactly as long as the limit says (the receiving side: the
    /// mock Bot API).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn exact(limit: Limit) -> Self {
        Window {
            margin: Duration::ZERO,
            ..Window::new(limit)
        }
    }

    /// The earliest instant at or after `now` when one more send fits.
    pub(crate) fn next_allowed(&mut self, now: Instant) -> Instant {
        while let Some(&oldest) = self.sent.front() {
            if now.saturating_duration_since(oldest) >= self.limit.per + self.margin {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        match self.sent.front() {
            Some(&oldest) if self.sent.len() >= self.limit.max as usize => {
                oldest + self.limit.per + self.margin
            }
            _ => now,
        }
    }

    /// Records a send at `now`.
    pub(crate) fn record(&mut self, now: Instant) {
        if self.sent.len() >= self.limit.max as usize {
            self.sent.pop_front();
        }
        self.sent.push_back(now);
    }
}

/// The earliest instant all `windows` allow a send.
pub(crate) fn next_allowed<'a>(
    windows: impl IntoIterator<Item = &'a mut Window>,
    now: Instant,
) -> Instant {
    windows
        .into_iter()
        .map(|w| w.next_allowed(now))
        .max()
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_never_allows_more_than_max_in_any_span() {
        let start = Instant::now();
        let mut window = Window::new(Limit::new(20, Duration::from_secs(60)));
        let mut sends = Vec::new();
        let mut now = start;
        for _ in 0..65 {
            now = window.next_allowed(now);
            window.record(now);
            sends.push(now);
        }
        for (i, &at) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|&&t| t - at < Duration::from_secs(60))
                .count();
            assert!(in_window <= 20, "{in_window} sends within 60 s of send {i}");
        }
        // 20 per window (plus the safety margin): sends 60..65 go in the
        // fourth window.
        assert_eq!(sends[19] - start, Duration::ZERO);
        assert_eq!(sends[20] - start, Duration::from_secs(60) + SAFETY_MARGIN);
        assert_eq!(
            sends[64] - start,
            (Duration::from_secs(60) + SAFETY_MARGIN) * 3
        );
    }

    #[test]
    fn invalid_limits_are_rejected() {
        let err = Pacing::default()
            .per_chat(Some(Limit::new(0, Duration::from_secs(1))))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("pacing.per_chat"), "{err}");
    }
}
