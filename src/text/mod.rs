//! Small text tools every stage shares: inline strings that spare the
//! application's thread an allocation, and the one message normaliser.
//!
//! Nothing flows through here; it is a leaf that depends on nothing in the
//! crate.

pub(crate) mod inline;
pub(crate) mod normalize;

pub(crate) use inline::{InlineText, ShortText, Text};

use std::any::Any;

/// The text of a panic payload (`&str` or `String`, as `panic!` makes them).
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
