//! Many failures at once: deduplication and tallies, slow spans and the
//! digest, and floods from many threads.

#[path = "../common/mod.rs"]
mod common;

mod chaos;
mod dedup;
mod fleet_incident;
mod fleet_storm;
mod incidents;
mod news_first;
mod queue_reserve;
mod slow_spans;
mod spread;
mod variants;
