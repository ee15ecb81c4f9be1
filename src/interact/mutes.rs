//! The kinds chat members muted, as one process knows them: until when
//! each is muted, until when that is trusted without asking the fleet, and
//! the alert as it stood (to edit it again on 🔔 Unmute). The pipeline
//! keeps a muted kind out of the chat (`pipeline/mutes.rs`).
//!
//! With a fleet, Redis is the authority: what this process knows of a mute
//! is trusted for [`MUTE_TRUST`] only, then the next record asks again (so
//! an unmute pressed anywhere holds everywhere within seconds). If Redis
//! does not answer, the mute holds as long as it was last known to.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::delivery::Delivered;

use super::actions::AlertNotes;

/// How long a fleet process trusts what it knows of a mute before it asks
/// Redis again.
const MUTE_TRUST: Duration = Duration::from_secs(3);

/// Muted kinds, by fingerprint.
#[derive(Debug, Default)]
pub(crate) struct MuteTable {
    muted: HashMap<u64, Mute>,
}

/// A muted kind.
#[derive(Debug)]
struct Mute {
    /// When it ends (on the pipeline's clock).
    until: Instant,
    /// Until when this is trusted without asking the fleet (`until` for a
    /// process on its own).
    trusted_until: Instant,
    /// The alert as it stood (to edit it again on 🔔 Unmute).
    kept: Option<Delivered>,
}

impl MuteTable {
    /// Whether `fingerprint` is muted at `now`.
    pub(crate) fn is_muted(&self, fingerprint: u64, now: Instant) -> bool {
        self.muted
            .get(&fingerprint)
            .is_some_and(|mute| now < mute.until)
    }

    /// Whether the mute of `fingerprint` holds at `now` without asking the
    /// fleet.
    pub(crate) fn is_trusted(&self, fingerprint: u64, now: Instant) -> bool {
        self.muted
            .get(&fingerprint)
            .is_some_and(|mute| now < mute.trusted_until.min(mute.until))
    }

    /// Forgets the mutes that ended.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.muted.retain(|_, mute| now < mute.until);
    }

    /// Remembers that `fingerprint` is muted for `remaining` from `now` (a
    /// press here, or the fleet's answer; `shared`: a fleet knows better),
    /// keeping the alert it knew.
    pub(crate) fn remember(
        &mut self,
        fingerprint: u64,
        remaining: Duration,
        kept: Option<Delivered>,
        (now, shared): (Instant, bool),
    ) {
        let trust = match shared {
            true => remaining.min(MUTE_TRUST),
            false => remaining,
        };
        let kept = kept.or_else(|| self.forget(fingerprint));
        let mute = Mute {
            until: now + remaining,
            trusted_until: now + trust,
            kept,
        };
        self.muted.insert(fingerprint, mute);
    }

    /// Ends the mute of `fingerprint`; the alert it kept, if any.
    pub(crate) fn forget(&mut self, fingerprint: u64) -> Option<Delivered> {
        self.muted.remove(&fingerprint).and_then(|mute| mute.kept)
    }

    /// The alert a mute kept.
    pub(crate) fn kept(&self, fingerprint: u64) -> Option<&Delivered> {
        self.muted.get(&fingerprint)?.kept.as_ref()
    }

    /// Keeps what chat members added to a muted alert.
    pub(crate) fn set_notes(&mut self, fingerprint: u64, notes: &AlertNotes) {
        let mute = self.muted.get_mut(&fingerprint);
        if let Some(kept) = mute.and_then(|mute| mute.kept.as_mut()) {
            kept.notes = notes.clone();
        }
    }

    /// When the next mute ends or needs asking the fleet again.
    pub(crate) fn next_end(&self, now: Instant) -> Option<Instant> {
        self.muted
            .values()
            .map(|mute| mute.until.min(mute.trusted_until))
            .filter(|at| *at > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_trusts_a_mute_for_seconds_a_process_alone_for_its_length() {
        let now = Instant::now();
        let hour = Duration::from_secs(3600);
        let mut table = MuteTable::default();
        table.remember(1, hour, None, (now, true));
        table.remember(2, hour, None, (now, false));
        let later = now + Duration::from_secs(10);
        assert!(table.is_muted(1, later) && table.is_muted(2, later));
        assert!(!table.is_trusted(1, later), "asks the fleet again");
        assert!(table.is_trusted(2, later));
        assert_eq!(table.next_end(now), Some(now + MUTE_TRUST));
        table.expire(now + hour);
        assert!(!table.is_muted(1, now + hour));
    }
}
