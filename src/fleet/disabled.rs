//! The fleet store of a build without the `redis` feature: a type with no
//! values, so that [`Fleet`](super::Fleet) is always local and its code
//! needs no `cfg` of its own.

use std::sync::Arc;
use std::time::Duration;

use crate::delivery::Delivered;
use crate::pipeline::incident::{FleetAdmission, IncidentMember};

use super::{HeldIncident, IncidentRules};
use crate::pipeline::DigestData;

use super::Claim;
use crate::report::Reporter;
use crate::stats::Counters;

/// No Redis configuration can exist in this build.
#[derive(Debug, Clone)]
pub(crate) enum FleetConfig {}

impl FleetConfig {
    /// Always an error: this build has no Redis client.
    pub(crate) fn new(_url: &str, _prefix: &str, _timeout: Duration) -> Result<Self, String> {
        Err("this build has the `redis` feature off".to_owned())
    }
}

/// No store can exist in this build: every method is unreachable by type.
#[derive(Debug)]
pub(crate) enum FleetStore {}

impl FleetStore {
    pub(crate) fn new(config: FleetConfig, _: Arc<Counters>, _: Arc<Reporter>) -> Self {
        match config {}
    }

    pub(crate) async fn connect(&mut self) {
        match *self {}
    }

    pub(crate) async fn refresh_presence(
        &mut self,
        _: &super::watch::Presence,
        _: super::watch::Refresh,
    ) -> Option<super::watch::WatchNews> {
        match *self {}
    }

    pub(crate) async fn leave_fleet(&mut self) {
        match *self {}
    }

    pub(crate) async fn quiet_for(&mut self, _: u64) -> Option<super::FleetQuiet> {
        match *self {}
    }

    pub(crate) async fn settle_escalation(&mut self, _: u64, _: bool) -> Option<bool> {
        match *self {}
    }

    pub(crate) async fn keep_report(&mut self, _: u64, _: &str, _: Duration) {
        match *self {}
    }

    pub(crate) async fn report(&mut self, _: u64) -> Option<Option<String>> {
        match *self {}
    }

    pub(crate) async fn add_spread(
        &mut self,
        _: u64,
        _: &[crate::pipeline::spread::FleetCount],
        _: Duration,
    ) {
        match *self {}
    }

    pub(crate) async fn spread(
        &mut self,
        _: u64,
    ) -> Option<Vec<crate::pipeline::spread::FleetCount>> {
        match *self {}
    }

    pub(crate) async fn arrive(
        &mut self,
        _: u64,
        _: &str,
    ) -> Option<crate::pipeline::history::KindPast> {
        match *self {}
    }

    pub(crate) async fn resolved(&mut self, _: u64, _: &crate::pipeline::history::ResolvedAlert) {
        match *self {}
    }

    pub(crate) async fn census(
        &mut self,
        _: u64,
        _: u64,
    ) -> Option<crate::render::digest::FleetCensus> {
        match *self {}
    }

    pub(crate) async fn claim(&mut self, _: u64, _: Duration) -> Claim {
        match *self {}
    }

    pub(crate) fn add_repeats(&mut self, _: u64, _: u64, _: Duration) -> u64 {
        match *self {}
    }

    pub(crate) fn knows_repeat(&self, _: u64) -> bool {
        match *self {}
    }

    pub(crate) async fn flush_all_repeats(&mut self) {
        match *self {}
    }

    pub(crate) fn has_pending_repeats(&self) -> bool {
        match *self {}
    }

    pub(crate) fn take_crossed(&mut self) -> Vec<(u64, u64)> {
        match *self {}
    }

    pub(crate) async fn total(&mut self, _: u64) -> Option<u64> {
        match *self {}
    }

    pub(crate) async fn first_start(&mut self, _: &str, _: &str) -> Option<bool> {
        match *self {}
    }

    pub(crate) async fn store_original(&mut self, _: &Delivered, _: Duration) {
        match *self {}
    }

    pub(crate) async fn original(&mut self, _: u64) -> Option<Delivered> {
        match *self {}
    }

    pub(crate) async fn lead(&mut self, _: Duration) -> Option<bool> {
        match *self {}
    }

    pub(crate) async fn resign(&mut self) {
        match *self {}
    }

    pub(crate) async fn mute(&mut self, _: u64, _: Duration, _: Duration) -> bool {
        match *self {}
    }

    pub(crate) async fn unmute(&mut self, _: u64) -> bool {
        match *self {}
    }

    pub(crate) async fn push_digest(&mut self, _: u64, _: &DigestData, _: Duration) -> bool {
        match *self {}
    }

    pub(crate) async fn collect_digest(
        &mut self,
        _: u64,
        _: Duration,
    ) -> Result<Option<Vec<DigestData>>, ()> {
        match *self {}
    }

    pub(crate) async fn admit_to_incident(
        &mut self,
        _: &str,
        _: &IncidentMember,
        _: IncidentRules,
    ) -> Option<FleetAdmission> {
        match *self {}
    }

    pub(crate) async fn update_incident_member(&mut self, _: &str, _: &IncidentMember) {
        match *self {}
    }

    pub(crate) async fn read_incident(&mut self, _: &str, _: u64) -> Option<HeldIncident> {
        match *self {}
    }
}
