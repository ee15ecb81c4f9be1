//! The builder's typed parts: each a small value with its defaults and its
//! documentation beside it, given to the [`Builder`](super::Builder) through
//! a closure that edits the part as configured so far
//! (`.dedup(|d| d.window(..))`), so that code adds to what
//! [`Builder::from_env`](super::Builder::from_env) read instead of
//! replacing it.
//!
//! The builder turns parts into each stage's configuration when it
//! validates; nothing else in the crate sees them.

mod capture;
mod dedup;
mod delivery;
mod digest;
mod fleet;
mod hooks;
mod interactive;
mod limits;
mod notices;
mod panics;
mod routing;
mod slow;
mod storms;

pub use capture::Capture;
pub use dedup::Dedup;
pub use delivery::Delivery;
pub use digest::Digest;
pub use fleet::Fleet;
pub use hooks::Hooks;
pub use interactive::Interactive;
pub use limits::Limits;
pub use notices::Notices;
pub use panics::Panics;
pub use routing::Routing;
pub use slow::SlowSpans;
pub use storms::Storms;
