//! Button presses: `getUpdates` (long polling, one poller at a time, as
//! Telegram allows), `answerCallbackQuery`, and [`MockTelegram::press`],
//! which plays a chat member pressing a button.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::response::{api_error, ok};
use super::{MockTelegram, Shared};

/// The longest long poll the mock holds (Telegram's own cap is 50 s).
const MAX_POLL: Duration = Duration::from_secs(50);

/// How long [`MockTelegram::press`] waits for the bot's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// `getUpdates`: the presses at or after `offset` (those before it are
/// confirmed and forgotten), waiting up to `timeout` seconds for one; a
/// newer call ends this one with 409, as Telegram does.
pub(super) async fn get_updates(shared: &Shared, request: &Value) -> Response {
    let offset = request.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let limit = request
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(100, |limit| limit.clamp(1, 100)) as usize;
    let wait = request
        .get("timeout")
        .and_then(Value::as_u64)
        .map_or(Duration::ZERO, Duration::from_secs)
        .min(MAX_POLL);
    let deadline = Instant::now() + wait;
    let this_poll = {
        let mut inner = shared.lock();
        inner.polls += 1;
        inner
            .updates
            .retain(|update| update["update_id"].as_i64().unwrap_or(0) >= offset);
        inner.polls
    };
    loop {
        {
            let inner = shared.lock();
            if inner.polls != this_poll {
                return api_error(
                    StatusCode::CONFLICT,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    None,
                );
            }
            if !inner.updates.is_empty() || Instant::now() >= deadline {
                let some = inner.updates.iter().take(limit).cloned().collect();
                return ok(Value::Array(some));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `answerCallbackQuery`: records the toast for the press it answers.
pub(super) fn answer_callback_query(shared: &Shared, request: &Value) -> Response {
    let Some(id) = request.get("callback_query_id").and_then(Value::as_str) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
            None,
        );
    };
    let text = request
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    shared.lock().answers.insert(id.to_owned(), text.to_owned());
    shared.changed.notify_all();
    ok(Value::Bool(true))
}

impl MockTelegram {
    /// User `user_id` presses the button labelled `label` on message
    /// `message_id`; the toast the bot answered with, or `None` if there is
    /// no such button or no answer came within 20 s.
    pub fn press(&self, message_id: i64, user_id: i64, label: &str) -> Option<String> {
        let data = self
            .messages()
            .into_iter()
            .find(|m| m.message_id == message_id)?
            .button_data(label)?;
        self.press_data(message_id, user_id, &data)
    }

    /// User `user_id` sends a press with `callback_data` of its own making
    /// on message `message_id` (a forged or stale button); the toast.
    pub fn press_data(&self, message_id: i64, user_id: i64, data: &str) -> Option<String> {
        let message = self
            .messages()
            .into_iter()
            .find(|m| m.message_id == message_id)?;
        let chat = match &message.chat_id {
            Value::String(name) => json!({"id": -1, "username": name.trim_start_matches('@')}),
            id => json!({"id": id}),
        };
        let query_id = {
            let mut inner = self.shared.lock();
            let update_id = inner.next_update_id;
            inner.next_update_id += 1;
            let query_id = format!("press-{update_id}");
            inner.updates.push(json!({
                "update_id": update_id,
                "callback_query": {
                    "id": query_id,
                    "from": {"id": user_id, "is_bot": false,
                             "first_name": format!("User {user_id}"),
                             "username": format!("user{user_id}")},
                    "message": {"message_id": message_id, "chat": chat,
                                "text": message.plain_text()},
                    "chat_instance": "mock",
                    "data": data,
                },
            }));
            query_id
        };
        self.wait_for_answer(&query_id)
    }

    /// The toast of press `query_id`, once answered (at most 20 s).
    fn wait_for_answer(&self, query_id: &str) -> Option<String> {
        let deadline = Instant::now() + ANSWER_WAIT;
        let mut inner = self.shared.lock();
        loop {
            if let Some(toast) = inner.answers.get(query_id) {
                return Some(toast.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}
