//! What chat members did to an alert, as the alert shows it: who
//! acknowledged it, who muted it and until when, and the buttons it offers
//! (feature-free; only used with `interactive(true)`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::interact::callback::{Action, CallbackKey};
use crate::render::html::{escape_into, html_to_plain, MAX_MESSAGE_UNITS};
use crate::render::time::format_utc;

/// Who did something, and when (for a mute: until when), in Unix seconds
/// (kept with the alert's original in Redis, so any process can show it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    /// The chat member, as Telegram names them (`@username`, or their name).
    pub(crate) by: String,
    pub(crate) at: u64,
}

impl Stamp {
    pub(crate) fn new(by: &str, at: SystemTime) -> Self {
        Stamp {
            by: by.to_owned(),
            at: at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }

    fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.at)
    }

    /// Whether its time is after `now` (a mute that still holds).
    pub(crate) fn is_after(&self, now: SystemTime) -> bool {
        self.time() > now
    }
}

/// What an alert shows below its text besides the tally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AlertNotes {
    /// Acknowledged by, at.
    pub(crate) ack: Option<Stamp>,
    /// Muted by, until.
    pub(crate) mute: Option<Stamp>,
}

impl AlertNotes {
    /// The lines, as plain text (escaped when appended).
    fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(ack) = &self.ack {
            lines.push(format!(
                "✅ Acknowledged by {} at {}",
                ack.by,
                format_utc(ack.time())
            ));
        }
        if let Some(mute) = &self.mute {
            lines.push(format!(
                "🔕 muted by {} until {}",
                mute.by,
                format_utc(mute.time())
            ));
        }
        lines
    }

    /// Appends the notes to `html` (escaped), if the result stays within
    /// Telegram's limit; `false` if they did not fit.
    pub(crate) fn append_to(&self, html: &mut String) -> bool {
        let lines = self.lines();
        if lines.is_empty() {
            return true;
        }
        let mut appended = String::from("\n");
        let mut units = 1;
        for line in &lines {
            appended.push('\n');
            units += 1 + escape_into(&mut appended, line);
        }
        if html_to_plain(html).encode_utf16().count() + units > MAX_MESSAGE_UNITS {
            return false;
        }
        html.push_str(&appended);
        true
    }
}

/// An inline keyboard (`reply_markup`), as the Bot API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Keyboard {
    inline_keyboard: Vec<Vec<Button>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Button {
    text: String,
    callback_data: String,
}

/// What the buttons of interactive alerts need.
#[derive(Debug, Clone)]
pub(crate) struct Buttons {
    pub(crate) key: CallbackKey,
    pub(crate) mute_options: Vec<Duration>,
}

impl Buttons {
    /// The buttons of the alert of `fingerprint` in the state `notes` say:
    /// a muted alert offers 🔔 Unmute; otherwise ✅ Ack (until acknowledged)
    /// and one 🔕 button per mute option; below them, 📄 Report (the full
    /// report as a file).
    pub(crate) fn keyboard(
        &self,
        fingerprint: u64,
        notes: &AlertNotes,
        now: SystemTime,
    ) -> Keyboard {
        let button = |text: String, action| Button {
            text,
            callback_data: self.key.encode(action, fingerprint, now),
        };
        let row = if notes.mute.is_some() {
            vec![button("🔔 Unmute".to_owned(), Action::Unmute)]
        } else {
            let ack = notes
                .ack
                .is_none()
                .then(|| button("✅ Ack".to_owned(), Action::Ack));
            let mutes = self
                .mute_options
                .iter()
                .map(|duration| button(mute_label(*duration), Action::Mute(*duration)));
            ack.into_iter().chain(mutes).collect()
        };
        let report = vec![button("📄 Report".to_owned(), Action::Report)];
        Keyboard {
            inline_keyboard: vec![row, report],
        }
    }
}

/// `🔕 1 h`, `🔕 30 min`, `🔕 7 d`.
pub(crate) fn mute_label(duration: Duration) -> String {
    format!("🔕 {}", short_duration(duration))
}

/// `1 h`, `30 min`, `7 d`: a mute option as buttons and toasts say it.
pub(crate) fn short_duration(duration: Duration) -> String {
    let minutes = duration.as_secs() / 60;
    match minutes {
        m if m >= 1440 && m % 1440 == 0 && m > 1440 => format!("{} d", m / 1440),
        m if m >= 60 && m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

#[cfg(test)]
#[cfg(feature = "interactive")]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short() {
        assert_eq!(mute_label(Duration::from_secs(3600)), "🔕 1 h");
        assert_eq!(mute_label(Duration::from_secs(86_400)), "🔕 24 h");
        assert_eq!(mute_label(Duration::from_secs(7 * 86_400)), "🔕 7 d");
        assert_eq!(mute_label(Duration::from_secs(90 * 60)), "🔕 90 min");
    }

    #[test]
    fn notes_are_escaped_and_kept_within_the_limit() {
        let notes = AlertNotes {
            ack: Some(Stamp::new("<b>eve</b>", UNIX_EPOCH)),
            mute: None,
        };
        let mut html = "<b>alert</b>".to_owned();
        assert!(notes.append_to(&mut html));
        assert_eq!(
            html,
            "<b>alert</b>\n\n✅ Acknowledged by &lt;b&gt;eve&lt;/b&gt; at 1970-01-01 00:00:00 UTC"
        );
        let mut full = "x".repeat(MAX_MESSAGE_UNITS - 10);
        assert!(!notes.append_to(&mut full));
        assert_eq!(full.len(), MAX_MESSAGE_UNITS - 10, "left as it was");
    }

    #[test]
    fn a_muted_alert_offers_only_unmute() {
        let buttons = Buttons {
            key: CallbackKey::from_token("1:x"),
            mute_options: vec![Duration::from_secs(3600), Duration::from_secs(86_400)],
        };
        let labels = |notes: &AlertNotes| -> Vec<String> {
            buttons
                .keyboard(7, notes, SystemTime::now())
                .inline_keyboard[0]
                .iter()
                .map(|b| b.text.clone())
                .collect()
        };
        let mut notes = AlertNotes::default();
        assert_eq!(labels(&notes), ["✅ Ack", "🔕 1 h", "🔕 24 h"]);
        notes.ack = Some(Stamp::new("@ann", SystemTime::now()));
        assert_eq!(labels(&notes), ["🔕 1 h", "🔕 24 h"]);
        notes.mute = Some(Stamp::new("@ann", SystemTime::now()));
        assert_eq!(labels(&notes), ["🔔 Unmute"]);
    }
}
