//! Callback data: what a button press carries back, short and signed.
//!
//! Telegram returns a button's `callback_data` (at most 64 bytes) with every
//! press, and anyone who can talk to the bot can send any data they like.
//! So the data names only the action, the alert's fingerprint and when the
//! button was made, and carries an HMAC-SHA256 tag (truncated to 80 bits)
//! keyed from the bot token: only a holder of the token could have made it.
//! Every process of a fleet shares the token, so any of them can check a
//! press on a button another one made.
//!
//! Form: `a.{fp}.{issued}.{tag}`, `u.…`, `r.…` (the full report) or
//! `m{minutes}.{fp}.{issued}.{tag}` — fingerprint in 16 hex digits, issue
//! time in hex minutes since the Unix epoch, tag in 20 hex digits.

#[cfg(feature = "interactive")]
use std::time::UNIX_EPOCH;
use std::time::{Duration, SystemTime};

#[cfg(feature = "interactive")]
use ring::hmac;

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Acknowledge the alert.
    Ack,
    /// Mute its kind for this long.
    Mute(Duration),
    /// End a mute.
    Unmute,
    /// Send the alert's full report as a file.
    Report,
}

/// Why a press is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
pub(crate) enum Refusal {
    /// Not data this crate makes (wrong shape, unknown action).
    Unknown,
    /// The tag does not match: forged or altered.
    Forged,
    /// Authentic, but made too long ago (or in the future).
    Stale,
    /// A mute duration that is not among the configured options.
    NotOffered,
}

impl Refusal {
    /// The toast the presser sees.
    pub(crate) fn toast(self) -> &'static str {
        match self {
            Refusal::Unknown => "⚠️ Unknown button: nothing changed",
            Refusal::Forged => "⚠️ This button could not be verified: nothing changed",
            Refusal::Stale => "⚠️ This button has expired: nothing changed",
            Refusal::NotOffered => "⚠️ That mute duration is not offered: nothing changed",
        }
    }
}

/// Buttons older than this are refused (an alert is acted on within days).
#[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Telegram's limit on `callback_data`, in bytes.
#[cfg(test)]
const MAX_CALLBACK_DATA: usize = 64;

#[cfg(feature = "interactive")]
/// Bytes of the HMAC kept (80 bits: forging one takes ~2^79 tries, each a
/// button press the bot answers one at a time).
const TAG_BYTES: usize = 10;

#[cfg(feature = "interactive")]
/// Signs and checks callback data with a key derived from the bot token.
#[derive(Clone)]
pub(crate) struct CallbackKey(hmac::Key);

#[cfg(feature = "interactive")]
impl std::fmt::Debug for CallbackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallbackKey(..)")
    }
}

#[cfg(feature = "interactive")]
impl CallbackKey {
    /// The key for `token`: HMAC(token, a fixed label), so that the token
    /// itself never signs anything an attacker sees.
    pub(crate) fn from_token(token: &str) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
        let derived = hmac::sign(&root, b"tracing-telegram/callback-data/v1");
        CallbackKey(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// The data for a button doing `action` on the alert of `fingerprint`,
    /// made at `now`.
    pub(crate) fn encode(&self, action: Action, fingerprint: u64, now: SystemTime) -> String {
        let issued = unix_minutes(now);
        let body = format!("{}.{fingerprint:016x}.{issued:x}", action_code(action));
        let tag = self.tag(&body);
        format!("{body}.{tag}")
    }

    /// The action and fingerprint `data` asks for, if it is authentic,
    /// fresh at `now`, and (for a mute) one of `mute_options`.
    pub(crate) fn decode(
        &self,
        data: &str,
        now: SystemTime,
        mute_options: &[Duration],
    ) -> Result<(Action, u64), Refusal> {
        let (body, tag) = data.rsplit_once('.').ok_or(Refusal::Unknown)?;
        let mut parts = body.split('.');
        let (Some(code), Some(fingerprint), Some(issued), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Unknown);
        };
        let action = parse_action(code).ok_or(Refusal::Unknown)?;
        let fingerprint = u64::from_str_radix(fingerprint, 16).map_err(|_| Refusal::Unknown)?;
        let issued = u64::from_str_radix(issued, 16).map_err(|_| Refusal::Unknown)?;
        if !constant_time_eq(self.tag(body).as_bytes(), tag.as_bytes()) {
            return Err(Refusal::Forged);
        }
        let now = unix_minutes(now);
        let stale = issued.saturating_add(STALE_AFTER.as_secs() / 60) < now;
        let from_the_future = issued > now.saturating_add(5);
        if stale || from_the_future {
            return Err(Refusal::Stale);
        }
        if let Action::Mute(duration) = action {
            if !mute_options.contains(&duration) {
                return Err(Refusal::NotOffered);
            }
        }
        Ok((action, fingerprint))
    }

    fn tag(&self, body: &str) -> String {
        let tag = hmac::sign(&self.0, body.as_bytes());
        tag.as_ref()[..TAG_BYTES]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

#[cfg(feature = "interactive")]
fn action_code(action: Action) -> String {
    match action {
        Action::Ack => "a".to_owned(),
        Action::Unmute => "u".to_owned(),
        Action::Report => "r".to_owned(),
        Action::Mute(duration) => format!("m{}", duration.as_secs() / 60),
    }
}

#[cfg(feature = "interactive")]
fn parse_action(code: &str) -> Option<Action> {
    match code {
        "a" => Some(Action::Ack),
        "u" => Some(Action::Unmute),
        "r" => Some(Action::Report),
        _ => {
            let minutes: u64 = code.strip_prefix('m')?.parse().ok()?;
            (minutes > 0).then(|| Action::Mute(Duration::from_secs(minutes.saturating_mul(60))))
        }
    }
}

#[cfg(feature = "interactive")]
fn unix_minutes(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 60)
}

#[cfg(feature = "interactive")]
/// Compares without stopping at the first difference (no timing hint).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Without the `interactive` feature there is no key: a type with no
/// values, so that the code around it compiles while nothing can sign or
/// check a button (the builder refuses interactive alerts then; the same
/// pattern as the fleet's store without `redis`).
#[cfg(not(feature = "interactive"))]
#[derive(Debug, Clone)]
pub(crate) enum CallbackKey {}

#[cfg(not(feature = "interactive"))]
impl CallbackKey {
    pub(crate) fn encode(&self, _: Action, _: u64, _: SystemTime) -> String {
        match *self {}
    }

    pub(crate) fn decode(
        &self,
        _: &str,
        _: SystemTime,
        _: &[Duration],
    ) -> Result<(Action, u64), Refusal> {
        match *self {}
    }
}

#[cfg(test)]
#[cfg(feature = "interactive")]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
    const OPTIONS: [Duration; 2] = [Duration::from_secs(3600), Duration::from_secs(86_400)];

    fn key() -> CallbackKey {
        CallbackKey::from_token(TOKEN)
    }

    #[test]
    fn every_action_round_trips_within_telegrams_limit() {
        let now = SystemTime::now();
        for action in [Action::Ack, Action::Unmute, Action::Mute(OPTIONS[1])] {
            let data = key().encode(action, u64::MAX, now);
            assert!(
                data.len() <= MAX_CALLBACK_DATA,
                "{data} is {} bytes",
                data.len()
            );
            assert_eq!(key().decode(&data, now, &OPTIONS), Ok((action, u64::MAX)));
        }
    }

    #[test]
    fn altered_or_foreign_data_is_refused() {
        let now = SystemTime::now();
        let data = key().encode(Action::Ack, 7, now);
        let other_alert = data.replacen(".0000000000000007.", ".0000000000000008.", 1);
        assert_eq!(
            key().decode(&other_alert, now, &OPTIONS),
            Err(Refusal::Forged)
        );
        let mute_instead = format!("m60{}", &data[1..]);
        assert_eq!(
            key().decode(&mute_instead, now, &OPTIONS),
            Err(Refusal::Forged)
        );
        let other_bot = CallbackKey::from_token("987654321:AAOtherBotTokenxxxxxxxxxxxxxxxxxxxx");
        assert_eq!(other_bot.decode(&data, now, &OPTIONS), Err(Refusal::Forged));
        for junk in [
            "",
            "a",
            "a.7.1",
            "x.0000000000000007.1.00",
            "m0.1.1.1",
            "a.zz.1.1",
            "a.1.1.1.1",
        ] {
            assert_eq!(
                key().decode(junk, now, &OPTIONS),
                Err(Refusal::Unknown),
                "{junk}"
            );
        }
    }

    #[test]
    fn old_buttons_and_unoffered_durations_are_refused() {
        let made = SystemTime::now();
        let data = key().encode(Action::Ack, 7, made);
        let later = made + STALE_AFTER + Duration::from_secs(120);
        assert_eq!(key().decode(&data, later, &OPTIONS), Err(Refusal::Stale));
        let earlier = made - Duration::from_secs(3600);
        assert_eq!(key().decode(&data, earlier, &OPTIONS), Err(Refusal::Stale));
        let week = key().encode(Action::Mute(Duration::from_secs(7 * 86_400)), 7, made);
        assert_eq!(
            key().decode(&week, made, &OPTIONS),
            Err(Refusal::NotOffered)
        );
    }
}
