//! How a variable's (or a setting's) text becomes a value: each parser
//! names the variable in the `Error` it returns, with what was expected.

use std::time::Duration;

use crate::alert::AlertLevel;
use crate::chat::{ChatId, Destination};
use crate::error::Error;

pub(super) fn parse_user_id(name: &'static str, id: &str) -> Result<i64, Error> {
    id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::invalid(
            name,
            id,
            "Telegram user ids (positive numbers), comma-separated",
        )
    })
}

/// A comma-separated list, each item parsed by `item`.
pub(super) fn parse_list<T>(
    var: &'static str,
    value: &str,
    item: impl Fn(&str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .collect();
    if items.is_empty() {
        return Err(Error::invalid(var, value, "a comma-separated list"));
    }
    items.into_iter().map(item).collect()
}

pub(super) fn parse_bool(var: &'static str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::invalid(
            var,
            value,
            "true or false (also 1/0, yes/no, on/off)",
        )),
    }
}

pub(super) fn parse_chat_id(var: &'static str, value: &str) -> Result<ChatId, Error> {
    let chat = ChatId::from(value);
    if let ChatId::Username(name) = &chat {
        if !name.starts_with('@') {
            return Err(Error::invalid(
                var,
                value,
                "an integer chat id or @channelname",
            ));
        }
    }
    Ok(chat)
}

pub(super) fn parse_thread_id(var: &'static str, value: &str) -> Result<i64, Error> {
    match value.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(Error::invalid(var, value, "a positive integer topic id")),
    }
}

pub(super) fn parse_count(var: &'static str, value: &str) -> Result<usize, Error> {
    value
        .trim()
        .parse::<usize>()
        .map_err(|_| Error::invalid(var, value, "a non-negative integer"))
}

pub(super) fn parse_u32(var: &'static str, value: &str) -> Result<u32, Error> {
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| Error::invalid(var, value, "a whole number from 0 to 4294967295"))
}

pub(super) const ROUTE_FIELD: &str = "name:value=chat[/topic], e.g. team:search=-1001234567890/3";

/// `what=chat[/topic]`: what is routed, and the destination's text.
pub(super) fn split_route<'a>(
    var: &'static str,
    item: &'a str,
) -> Result<(&'a str, &'a str), Error> {
    match item.rsplit_once('=') {
        Some((what, destination)) if !what.trim().is_empty() => Ok((what.trim(), destination)),
        _ => Err(Error::invalid(
            var,
            item,
            "route=chat[/topic], e.g. billing=-1001234567890/12",
        )),
    }
}

/// `chat[/topic]`: a chat id or `@channel`, and maybe a forum topic.
pub(super) fn parse_destination(var: &'static str, text: &str) -> Result<Destination, Error> {
    let (chat, topic) = match text.split_once('/') {
        Some((chat, topic)) => (chat, Some(parse_thread_id(var, topic)?)),
        None => (text, None),
    };
    let destination = Destination::chat(parse_chat_id(var, chat.trim())?);
    Ok(match topic {
        Some(topic) => destination.in_thread(topic),
        None => destination,
    })
}

/// `15` (Error and Critical), `error=30` or `critical=5`.
pub(super) fn parse_deadline(
    var: &'static str,
    item: &str,
) -> Result<(&'static [AlertLevel], Duration), Error> {
    const BOTH: &[AlertLevel] = &[AlertLevel::Error, AlertLevel::Critical];
    let (levels, minutes) = match item.split_once('=') {
        None => (BOTH, item),
        Some((level, minutes)) => match level.trim().to_ascii_lowercase().as_str() {
            "error" => (&BOTH[..1], minutes),
            "critical" => (&BOTH[1..], minutes),
            _ => {
                return Err(Error::invalid(
                    var,
                    item,
                    "minutes, or error=minutes / critical=minutes",
                ))
            }
        },
    };
    Ok((levels, parse_minutes(var, minutes, 1)?))
}

pub(super) fn parse_minutes(var: &'static str, value: &str, min: u64) -> Result<Duration, Error> {
    const EXPECTED_0: &str = "a whole number of minutes (0 or more)";
    const EXPECTED_1: &str = "a whole number of minutes (1 or more)";
    let expected = if min == 0 { EXPECTED_0 } else { EXPECTED_1 };
    match value.trim().parse::<u64>() {
        Ok(minutes) if minutes >= min && minutes <= 60 * 24 * 366 => {
            Ok(Duration::from_secs(minutes * 60))
        }
        _ => Err(Error::invalid(var, value, expected)),
    }
}

pub(super) fn parse_seconds(var: &'static str, value: &str) -> Result<Duration, Error> {
    const EXPECTED: &str = "a number of seconds greater than 0, such as 3 or 0.5";
    match value.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(Error::invalid(var, value, EXPECTED)),
    }
}

pub(super) fn parse_paths(var: &'static str, value: &str) -> Result<Vec<String>, Error> {
    let mut paths = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !part.starts_with('/') {
            return Err(Error::invalid(
                var,
                part,
                "comma-separated path prefixes starting with /",
            ));
        }
        paths.push(part.to_owned());
    }
    Ok(paths)
}
