//! The repeat gate: how a repeat of an alert already inside its dedup
//! window is counted on the application's thread without building a record.
//!
//! In a flood almost every event is a repeat. The worker opens a slot for
//! each kind of alert inside its window; the layer reads an event's kind
//! without allocating and, if its slot is open, counts the repeat with one
//! atomic increment; the worker takes the counts and settles them as if the
//! records had come through the queue.
//!
//! - [`probe`]: on the application's thread, an event's kind ([`GateKey`]).
//! - [`table`]: the slots both sides share ([`RepeatGate`]), and [`open`]:
//!   the worker's record of what it opened ([`OpenKinds`]).
//! - [`spread`]: on both sides, what varies across a kind's repeats (the
//!   values of small fields, counted by combination), and [`combos`]: the
//!   worker's reading of those counts.
//! - [`fold`]: a callsite with many different messages counted as one
//!   kind ([`FoldTable`]), so a storm of variants cannot fill the queue.
//! - [`settle`]: on the worker, the counts taken and handed to the stage
//!   that settles them ([`Settle`]), with the fleet's side
//!   ([`SharedRepeats`]).
//!
//! Plumbing between capture and the worker, like `channel/`: it depends on
//! leaf types and `record` only.

pub(crate) mod combos;
pub(crate) mod fold;
mod hash;
pub(crate) mod open;
pub(crate) mod probe;
pub(crate) mod settle;
pub(crate) mod spread;
pub(crate) mod table;
mod word;

pub(crate) use combos::KindSpread;
pub(crate) use fold::{FoldConfig, FoldVerdict};
pub(crate) use open::{OpenKind, OpenKinds};
pub(crate) use probe::GateProbe;
pub(crate) use settle::{close_all, settle_counts, FleetHeadings, Settle, SharedRepeats};
pub(crate) use table::{Counted, GateKey, RepeatGate, Reservation};
