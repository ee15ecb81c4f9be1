//! What reaches the chat: the alert's text, context and fields, what is
//! redacted or made safe, and the configuration that shapes it.

#[path = "../common/mod.rs"]
mod common;

mod alerts;
mod bad_input;
mod context;
mod privacy;
mod resolved;
mod sanitize_props;
mod secrets;
mod settings;
