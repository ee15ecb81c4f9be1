//! Whether alerts still reach the chat: [`Health`], read by
//! [`TelegramGuard::health`](crate::TelegramGuard::health) and
//! [`AlertHandle::health`](crate::AlertHandle::health), written by delivery.
//!
//! A service must not run on with its alerting dark and nobody knowing: a
//! revoked token (401), or a bot removed from the main chat (403, or the
//! chat deleted), stops delivery for good, and says so here, on stderr every
//! 5 minutes, to the `on_delivery_failure` hook and in the fallback chat.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// How delivery is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Health {
    /// The last message went out (or none was due yet).
    #[default]
    Healthy,
    /// Messages are failing for a reason that may pass (network, 5xx, a
    /// long rate limit) or a secondary destination is unreachable; alerts
    /// may have been lost (counted in `Stats::failed`). Also while alerts
    /// are delivered but interactive alerts turned themselves off (another
    /// program takes the bot's updates): the reason says so.
    Degraded {
        /// What went wrong last, without the token.
        reason: String,
    },
    /// Nothing reaches the main chat any more (revoked token, bot removed,
    /// chat deleted): every alert from `since` on is lost until the
    /// configuration is fixed and the service restarted.
    Dark {
        /// Why, without the token.
        reason: String,
        /// When delivery stopped.
        since: SystemTime,
    },
}

impl Health {
    /// `true` unless delivery is degraded or dark.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }

    /// `true` if nothing reaches the main chat any more.
    pub fn is_dark(&self) -> bool {
        matches!(self, Health::Dark { .. })
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Degraded { reason } => write!(f, "degraded: {reason}"),
            Health::Dark { reason, .. } => write!(f, "dark: {reason}"),
        }
    }
}

/// The shared, current [`Health`]. Dark is final: nothing brings a dark
/// pipeline back but a restart.
#[derive(Debug, Default)]
pub(crate) struct HealthCell(Mutex<Health>, Mutex<Option<String>>);

impl HealthCell {
    /// The health now. Delivery that works while interactive alerts
    /// turned themselves off is degraded, with that reason.
    pub(crate) fn get(&self) -> Health {
        let health = self.lock().clone();
        if health.is_healthy() {
            let off = self.1.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(reason) = off.as_ref() {
                return Health::Degraded {
                    reason: reason.clone(),
                };
            }
        }
        health
    }

    /// Interactive alerts turned themselves off (for good), for `reason`.
    pub(crate) fn interactive_off(&self, reason: &str) {
        *self.1.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
    }

    /// A message went out.
    pub(crate) fn delivered(&self) {
        let mut health = self.lock();
        if !health.is_dark() {
            *health = Health::Healthy;
        }
    }

    /// Something failed that may pass.
    pub(crate) fn degraded(&self, reason: &str) {
        let mut health = self.lock();
        if !health.is_dark() {
            *health = Health::Degraded {
                reason: reason.to_owned(),
            };
        }
    }

    /// Nothing reaches the main chat any more; `true` if it just went dark.
    pub(crate) fn dark(&self, reason: &str) -> bool {
        let mut health = self.lock();
        if health.is_dark() {
            return false;
        }
        *health = Health::Dark {
            reason: reason.to_owned(),
            since: SystemTime::now(),
        };
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Health> {
        // A panic elsewhere while holding it leaves a usable value.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dark_is_final_and_degraded_passes() {
        let cell = HealthCell::default();
        assert!(cell.get().is_healthy());
        cell.degraded("HTTP 502");
        assert_eq!(cell.get().to_string(), "degraded: HTTP 502");
        cell.delivered();
        assert!(cell.get().is_healthy());
        assert!(cell.dark("401 Unauthorized"));
        assert!(!cell.dark("403 Forbidden"), "already dark");
        cell.delivered();
        cell.degraded("HTTP 502");
        assert_eq!(cell.get().to_string(), "dark: 401 Unauthorized");
    }
}
