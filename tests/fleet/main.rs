//! A fleet of processes on a real Redis: one alert per problem, shared
//! tallies and digests, Redis going away, Redis Cluster and Sentinel.

#[path = "../common/mod.rs"]
mod common;

mod cluster;
mod kinds;
mod quiet;
mod sharing;
mod spread;
mod watch;
