//! Getting alerts to Telegram: retries, pacing, errors of the Bot API,
//! health, proxies, and the guard's flush and shutdown.

#[path = "../common/mod.rs"]
mod common;

mod health;
mod lifecycle;
mod network;
mod proxy;
mod quiet_hours;
mod routing;
mod sending;
