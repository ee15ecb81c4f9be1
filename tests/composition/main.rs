//! The layer among others: per-layer filters, several layers in one
//! registry, what the layer asks for, OpenTelemetry trace ids.

#[path = "../common/mod.rs"]
mod common;

mod filters;
mod layers;
mod otel;
mod wants;
