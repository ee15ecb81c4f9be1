//! Interactive alerts: buttons, presses, mutes, in one process and
//! across a fleet.
#![cfg(feature = "interactive")]

#[path = "../common/mod.rs"]
mod common;

mod across_fleet;
mod lifecycle;
mod presses;
mod report;
