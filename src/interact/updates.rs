//! The Bot API's `Update` objects, as far as a button press needs them.
//! Anything else in an update is ignored; an update that is not a press
//! only moves the offset on.

use serde::Deserialize;

/// One update from `getUpdates`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Update {
    pub(crate) update_id: i64,
    /// A press; `None` for any other update, and for a press this crate
    /// cannot read (so that the offset still moves past it: one odd update
    /// must not stop every later press).
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) callback_query: Option<CallbackQuery>,
}

/// Reads a press, or `None` if its shape is not one this crate reads.
fn lenient<'de, D>(deserializer: D) -> Result<Option<CallbackQuery>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// A button press.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CallbackQuery {
    /// Answered with `answerCallbackQuery`.
    pub(crate) id: String,
    pub(crate) from: User,
    /// The message the button belongs to (absent when too old).
    #[serde(default)]
    pub(crate) message: Option<PressedMessage>,
    /// The button's `callback_data`.
    #[serde(default)]
    pub(crate) data: Option<String>,
}

/// Who pressed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) id: i64,
    #[serde(default)]
    pub(crate) first_name: String,
    #[serde(default)]
    pub(crate) last_name: Option<String>,
    #[serde(default)]
    pub(crate) username: Option<String>,
}

impl User {
    /// How the alert names them: `@username`, else their name, else their id.
    pub(crate) fn display_name(&self) -> String {
        if let Some(username) = self.username.as_deref().filter(|u| !u.is_empty()) {
            return format!("@{username}");
        }
        let name = match &self.last_name {
            Some(last) => format!("{} {last}", self.first_name),
            None => self.first_name.clone(),
        };
        let name: String = name.trim().chars().take(64).collect();
        if name.is_empty() {
            format!("user {}", self.id)
        } else {
            name
        }
    }
}

/// The message a pressed button belongs to.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PressedMessage {
    pub(crate) message_id: i64,
    pub(crate) chat: Chat,
    /// Its text as users see it (to rebuild the alert when this process no
    /// longer knows its HTML).
    #[serde(default)]
    pub(crate) text: Option<String>,
}

/// The chat of a pressed message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Chat {
    pub(crate) id: i64,
    #[serde(default)]
    pub(crate) username: Option<String>,
}

/// The offset that confirms every update in `updates` (Telegram forgets
/// updates below the offset of the next call).
pub(crate) fn next_offset(current: i64, updates: &[Update]) -> i64 {
    updates
        .iter()
        .map(|update| update.update_id.saturating_add(1))
        .fold(current, i64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_press_is_read_and_everything_else_only_moves_the_offset() {
        let updates: Vec<Update> = serde_json::from_str(
            r#"[{"update_id": 5, "message": {"text": "hi"}},
                {"update_id": 6, "callback_query": {"id": "q1",
                  "from": {"id": 42, "is_bot": false, "first_name": "Ann", "username": "ann"},
                  "message": {"message_id": 9, "chat": {"id": -100}, "text": "alert"},
                  "data": "a.1.2.3"}}]"#,
        )
        .unwrap();
        assert!(updates[0].callback_query.is_none());
        let press = updates[1].callback_query.as_ref().unwrap();
        assert_eq!(press.from.display_name(), "@ann");
        assert_eq!(press.message.as_ref().unwrap().chat.id, -100);
        assert_eq!(next_offset(0, &updates), 7);
        assert_eq!(next_offset(10, &updates), 10);
    }

    #[test]
    fn a_press_of_an_unreadable_shape_only_moves_the_offset() {
        let updates: Vec<Update> = serde_json::from_str(
            r#"[{"update_id": 8, "callback_query": {"id": 5, "data": ["x"]}},
                {"update_id": 9, "callback_query": "nonsense"}]"#,
        )
        .unwrap();
        assert!(updates.iter().all(|u| u.callback_query.is_none()));
        assert_eq!(next_offset(0, &updates), 10);
    }

    #[test]
    fn names_fall_back_to_the_users_name_then_id() {
        let user = |first: &str, last: Option<&str>| User {
            id: 7,
            first_name: first.to_owned(),
            last_name: last.map(str::to_owned),
            username: None,
        };
        assert_eq!(user("Ann", Some("Lee")).display_name(), "Ann Lee");
        assert_eq!(user(" ", None).display_name(), "user 7");
    }
}
