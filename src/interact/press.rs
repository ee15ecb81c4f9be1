//! Who may press, and what a press asks for.
//!
//! A press counts only if its message is in one of the alert chats, its
//! presser is allowed (when `allowed_users` is set), and its data is
//! authentic, fresh and offered ([`callback`](super::callback)). Anything
//! else is refused with a toast and changes nothing.

use std::time::{Duration, SystemTime};

use super::callback::{Action, CallbackKey};
use super::updates::CallbackQuery;
use crate::chat::ChatId;

/// A press to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Press {
    pub(crate) action: Action,
    pub(crate) fingerprint: u64,
    /// The presser, as the alert names them.
    pub(crate) by: String,
    pub(crate) chat_id: i64,
    pub(crate) message_id: i64,
    /// The message's text as users see it (to rebuild it if need be).
    pub(crate) text: Option<String>,
}

impl Press {
    /// The toast its presser sees once it is carried out.
    pub(crate) fn toast(&self) -> String {
        match self.action {
            Action::Ack => "✅ Acknowledged".to_owned(),
            Action::Mute(duration) => format!(
                "🔕 Muted for {}",
                crate::interact::actions::short_duration(duration)
            ),
            Action::Unmute => "🔔 Unmuted".to_owned(),
            Action::Report => "📄 Sending the full report".to_owned(),
        }
    }
}

/// Judges presses.
#[derive(Debug, Clone)]
pub(crate) struct PressJudge {
    key: CallbackKey,
    mute_options: Vec<Duration>,
    allowed_users: Vec<i64>,
    chats: Vec<ChatId>,
}

impl PressJudge {
    #[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
    pub(crate) fn new(
        key: CallbackKey,
        mute_options: Vec<Duration>,
        allowed_users: Vec<i64>,
        chats: Vec<ChatId>,
    ) -> Self {
        PressJudge {
            key,
            mute_options,
            allowed_users,
            chats,
        }
    }

    /// The press `query` asks for at `now`, or the toast that refuses it.
    /// `migrated`: chats the alert chats moved to since they were
    /// configured (alert chats too).
    pub(crate) fn judge(
        &self,
        query: &CallbackQuery,
        now: SystemTime,
        migrated: &[ChatId],
    ) -> Result<Press, String> {
        let Some(message) = &query.message else {
            return Err("⚠️ This alert is too old to act on".to_owned());
        };
        let chat = &message.chat;
        let moved_here = migrated.contains(&ChatId::Id(chat.id));
        if !moved_here && !self.is_alert_chat(chat.id, chat.username.as_deref()) {
            return Err("⚠️ Not an alert chat: nothing changed".to_owned());
        }
        if !self.allowed_users.is_empty() && !self.allowed_users.contains(&query.from.id) {
            return Err("⛔ You are not allowed to act on alerts".to_owned());
        }
        let data = query.data.as_deref().unwrap_or_default();
        let (action, fingerprint) = self
            .key
            .decode(data, now, &self.mute_options)
            .map_err(|refusal| refusal.toast().to_owned())?;
        Ok(Press {
            action,
            fingerprint,
            by: query.from.display_name(),
            chat_id: message.chat.id,
            message_id: message.message_id,
            text: message.text.clone(),
        })
    }

    /// Whether a message in chat `id` (`@username`) is one of the alerts'.
    fn is_alert_chat(&self, id: i64, username: Option<&str>) -> bool {
        self.chats.iter().any(|chat| match chat {
            ChatId::Id(configured) => *configured == id,
            ChatId::Username(name) => {
                username.is_some_and(|u| name.trim_start_matches('@').eq_ignore_ascii_case(u))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interact::updates::{Chat, PressedMessage, User};

    const OPTIONS: [Duration; 1] = [Duration::from_secs(3600)];

    fn keeper(allowed: Vec<i64>) -> PressJudge {
        PressJudge::new(
            CallbackKey::from_token("1:token"),
            OPTIONS.to_vec(),
            allowed,
            vec![ChatId::Id(-100), ChatId::Username("@alerts".to_owned())],
        )
    }

    fn query(chat: i64, username: Option<&str>, user: i64, data: String) -> CallbackQuery {
        CallbackQuery {
            id: "q".to_owned(),
            from: User {
                id: user,
                first_name: "Ann".to_owned(),
                last_name: None,
                username: None,
            },
            message: Some(PressedMessage {
                message_id: 3,
                chat: Chat {
                    id: chat,
                    username: username.map(str::to_owned),
                },
                text: None,
            }),
            data: Some(data),
        }
    }

    #[test]
    fn only_alert_chats_and_allowed_users_may_press() {
        let now = SystemTime::now();
        let data = CallbackKey::from_token("1:token").encode(Action::Ack, 9, now);
        let judge = |keeper: &PressJudge, chat, name, user, migrated: &[ChatId]| {
            let query = query(chat, name, user, data.clone());
            keeper.judge(&query, now, migrated)
        };
        let open = keeper(Vec::new());
        let press = judge(&open, -100, None, 7, &[]).unwrap();
        assert_eq!(
            (press.action, press.fingerprint, press.by.as_str()),
            (Action::Ack, 9, "Ann")
        );
        assert!(judge(&open, -555, Some("ALERTS"), 7, &[]).is_ok());
        let elsewhere = judge(&open, -555, None, 7, &[]);
        assert!(elsewhere.unwrap_err().contains("Not an alert chat"));
        let migrated = [ChatId::Id(-555)];
        assert!(
            judge(&open, -555, None, 7, &migrated).is_ok(),
            "a migrated chat"
        );
        let closed = keeper(vec![42]);
        let refused = judge(&closed, -100, None, 7, &[]);
        assert!(refused.unwrap_err().contains("not allowed"));
        assert!(judge(&closed, -100, None, 42, &[]).is_ok());
    }
}
