//! Settings from the application's own configuration files: the
//! environment table, as a value to deserialize (with `figment`, `config`,
//! `toml`, `serde_json`, …). The keys are the variables' names in lower
//! case, checked against and read through the same table as the variables
//! ([`env::VARIABLES`](super::env::VARIABLES)), so names, defaults and
//! checks cannot drift apart.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::env;

/// The configuration as a file holds it: every key of the environment
/// table in lower case (`telegram_bot_token`, `alert_rate_limit_minutes`,
/// …), each optional, with the same meaning and default as the variable.
/// Values may be written as strings or as TOML/JSON numbers and booleans;
/// lists (`monitoring_ignored_paths`, `telegram_mute_minutes`,
/// `telegram_allowed_users`) also as lists. Unknown keys are an error (a
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
#[serde(try_from = "BTreeMap<String, SettingValue>")]
pub struct Settings {
    /// By variable name (upper case), each a name of the table.
    values: BTreeMap<&'static str, SettingValue>,
}

impl TryFrom<BTreeMap<String, SettingValue>> for Settings {
    type Error = String;

    fn try_from(keys: BTreeMap<String, SettingValue>) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for (key, value) in keys {
            let variable = env::variable(&key.to_ascii_uppercase())
                .filter(|_| key.chars().all(|c| !c.is_ascii_uppercase()))
                .ok_or_else(|| {
                    let known: Vec<String> = env::VARIABLES
                        .iter()
                        .map(|v| v.name.to_ascii_lowercase())
                        .collect();
                    format!(
                        "unknown setting `{key}`, expected one of {}",
                        known.join(", ")
                    )
                })?;
            values.insert(variable.name, value);
        }
        Ok(Settings { values })
    }
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
    /// A list, read as its items joined by commas.
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
        for (key, value) in &self.values {
            match *key {
                "TELEGRAM_BOT_TOKEN" => list.entry(key, &"<redacted>"),
                _ => list.entry(key, value),
            };
        }
        list.finish()
    }
}

impl Settings {
    /// A lookup over the settings, for the environment reader.
    pub(crate) fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| self.values.get(name).map(SettingValue::as_variable)
    }
}
