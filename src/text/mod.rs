//! Small text tools every stage shares: inline strings that spare the
//! application's thread an allocation, and the one message normaliser.
//!
//! Nothing flows through here; it is a leaf that depends on nothing in the
//! crate.

pub(crate) mod inline;
pub(crate) mod normalize;

pub(crate) use inline::{InlineText, ShortText, Text};
