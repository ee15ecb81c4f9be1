//! Settings from the application's own configuration files: the
//! environment table, as a struct to deserialize (with `figment`, `config`,
//! `toml`, `serde_json`, …). The keys are the variables' names in lower
//! case, and they are read by the same code as the variables, so names,
//! defaults and checks cannot drift apart.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;

/// The configuration as a file holds it: every key of the environment
/// table in lower case (`telegram_bot_token`, `alert_rate_limit_minutes`,
/// …), each optional, with the same meaning and default as the variable.
/// Values may be written as strings or as TOML/JSON numbers and booleans;
/// `monitoring_ignored_paths` also as a list. Unknown keys are an error (a
/// typo must not silently fall back to a default).
///
/// ```
/// # use tracing_telegram::Settings;
/// let settings: Settings = serde_json::from_str(r#"{
///     "telegram_bot_token": "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
///     "telegram_chat_id": -1001234567890,
///     "alert_rate_limit_minutes": 5,
///     "monitoring_ignored_paths": ["/health", "/ready"]
/// }"#).unwrap();
/// let builder = tracing_telegram::Builder::from_settings(&settings).unwrap();
/// # drop(builder);
/// ```
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// `TELEGRAM_BOT_TOKEN`.
    pub telegram_bot_token: Option<SettingValue>,
    /// `TELEGRAM_CHAT_ID`.
    pub telegram_chat_id: Option<SettingValue>,
    /// `TELEGRAM_THREAD_ID`.
    pub telegram_thread_id: Option<SettingValue>,
    /// `TELEGRAM_API_URL`.
    pub telegram_api_url: Option<SettingValue>,
    /// `TELEGRAM_REDIS_URL`.
    pub telegram_redis_url: Option<SettingValue>,
    /// `REDIS_URL`.
    pub redis_url: Option<SettingValue>,
    /// `REDIS_KEY_PREFIX`.
    pub redis_key_prefix: Option<SettingValue>,
    /// `MONITORING_ENABLED`.
    pub monitoring_enabled: Option<SettingValue>,
    /// `MONITORING_ENV`.
    pub monitoring_env: Option<SettingValue>,
    /// `MONITORING_SERVICE`.
    pub monitoring_service: Option<SettingValue>,
    /// `MONITORING_IGNORED_PATHS` (a list, or a comma-separated string).
    pub monitoring_ignored_paths: Option<SettingValue>,
    /// `ALERT_MAX_TRACEBACK_LINES`.
    pub alert_max_traceback_lines: Option<SettingValue>,
    /// `ALERT_CAPTURE_BACKTRACE`.
    pub alert_capture_backtrace: Option<SettingValue>,
    /// `ALERT_RATE_LIMIT_MINUTES`.
    pub alert_rate_limit_minutes: Option<SettingValue>,
    /// `BATCH_WINDOW_MINUTES`.
    pub batch_window_minutes: Option<SettingValue>,
    /// `SLOW_REQUEST_THRESHOLD_SECONDS`.
    pub slow_request_threshold_seconds: Option<SettingValue>,
    /// `SLOW_REQUESTS_BATCH_MINUTES`.
    pub slow_requests_batch_minutes: Option<SettingValue>,
    /// `TELEGRAM_INTERACTIVE`.
    pub telegram_interactive: Option<SettingValue>,
    /// `TELEGRAM_MUTE_MINUTES` (a list, or a comma-separated string).
    pub telegram_mute_minutes: Option<SettingValue>,
    /// `TELEGRAM_ALLOWED_USERS` (a list, or a comma-separated string).
    pub telegram_allowed_users: Option<SettingValue>,
}

/// One setting's value, as a file may write it.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SettingValue {
    /// `true`, `false`.
    Bool(bool),
    /// A whole number (a chat id, minutes).
    Integer(i64),
    /// A number with a fraction (seconds).
    Float(f64),
    /// Text, read as the environment variable's text would be.
    Text(String),
    /// A list (of paths), read as its items joined by commas.
    List(Vec<String>),
}

impl SettingValue {
    /// The value as the environment variable would hold it.
    fn as_variable(&self) -> String {
        match self {
            SettingValue::Bool(b) => b.to_string(),
            SettingValue::Integer(n) => n.to_string(),
            SettingValue::Float(x) => x.to_string(),
            SettingValue::Text(text) => text.clone(),
            SettingValue::List(items) => items.join(","),
        }
    }
}

impl fmt::Debug for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_variable())
    }
}

impl fmt::Debug for Settings {
    /// Lists the keys that are set; the bot token's value is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (key, value) in self.variables() {
            match key {
                "TELEGRAM_BOT_TOKEN" => list.entry(&key, &"<redacted>"),
                _ => list.entry(&key, &value),
            };
        }
        list.finish()
    }
}

impl Settings {
    /// The settings that are set, as environment variables.
    pub(crate) fn variables(&self) -> Vec<(&'static str, String)> {
        let all = [
            ("TELEGRAM_BOT_TOKEN", &self.telegram_bot_token),
            ("TELEGRAM_CHAT_ID", &self.telegram_chat_id),
            ("TELEGRAM_THREAD_ID", &self.telegram_thread_id),
            ("TELEGRAM_API_URL", &self.telegram_api_url),
            ("TELEGRAM_REDIS_URL", &self.telegram_redis_url),
            ("REDIS_URL", &self.redis_url),
            ("REDIS_KEY_PREFIX", &self.redis_key_prefix),
            ("MONITORING_ENABLED", &self.monitoring_enabled),
            ("MONITORING_ENV", &self.monitoring_env),
            ("MONITORING_SERVICE", &self.monitoring_service),
            ("MONITORING_IGNORED_PATHS", &self.monitoring_ignored_paths),
            ("ALERT_MAX_TRACEBACK_LINES", &self.alert_max_traceback_lines),
            ("ALERT_CAPTURE_BACKTRACE", &self.alert_capture_backtrace),
            ("ALERT_RATE_LIMIT_MINUTES", &self.alert_rate_limit_minutes),
            ("BATCH_WINDOW_MINUTES", &self.batch_window_minutes),
            (
                "SLOW_REQUEST_THRESHOLD_SECONDS",
                &self.slow_request_threshold_seconds,
            ),
            (
                "SLOW_REQUESTS_BATCH_MINUTES",
                &self.slow_requests_batch_minutes,
            ),
            ("TELEGRAM_INTERACTIVE", &self.telegram_interactive),
            ("TELEGRAM_MUTE_MINUTES", &self.telegram_mute_minutes),
            ("TELEGRAM_ALLOWED_USERS", &self.telegram_allowed_users),
        ];
        all.into_iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| (name, v.as_variable())))
            .collect()
    }

    /// A lookup over the settings, for the environment reader.
    pub(crate) fn lookup(&self) -> impl Fn(&str) -> Option<String> {
        let variables: HashMap<&'static str, String> = self.variables().into_iter().collect();
        move |name| variables.get(name).cloned()
    }
}
