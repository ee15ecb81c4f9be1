//! [`Routing`]: which chat or topic each alert goes to.

use crate::alert::AlertLevel;
use crate::chat::{Destination, RouteTable};

/// Where alerts go besides the default chat: by level, by the code that
/// raised them (a target prefix), or by a field's value — one layer, one
/// worker, one dedup store for several teams.
///
/// The most specific route wins: a [`field`](Self::field) route (the first
/// configured that matches), then the longest [`target`](Self::target)
/// prefix, then the [`level`](Self::level) route, then the default chat.
/// Deduplication, tallies, incidents and digests are per destination: one
/// failure routed to two teams is two alerts, and a team's warnings and
/// slow spans are summed up in its own digest (totals and the fleet's
/// census stay in the main one). Button presses are accepted in every
/// routed chat.
///
/// ```
/// use tracing_telegram::{AlertLevel, Destination, TelegramLayer};
///
/// let builder = TelegramLayer::builder()
///     .chat_id(-1001234567890_i64)
///     .routes(|r| {
///         r.target("billing", Destination::thread(12))
///             .target("search", Destination::thread(14))
///             .field("team", "payments", Destination::chat(-1005550001111_i64))
///             .level(AlertLevel::Critical, Destination::thread(7))
///     });
/// # drop(builder);
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Routing(pub(in crate::builder) RouteTable);

impl Routing {
    /// Sends alerts of `level` to `destination` (e.g. criticals to an
    /// on-call topic). Digests follow the Info route unless
    /// [`Digest::destination`](crate::Digest::destination) says otherwise.
    pub fn level(mut self, level: AlertLevel, destination: Destination) -> Self {
        self.0.levels.retain(|(existing, _)| *existing != level);
        self.0.levels.push((level, destination));
        self
    }

    /// Sends alerts raised by code whose target (module path, or a bridged
    /// `log` record's target) is `prefix` or starts with `prefix::` (whole
    /// segments: `billing` covers `billing::invoices`, not `billing_ext`) to
    /// `destination` (env `TELEGRAM_ROUTE_TARGETS`: `billing=-100123/12,…`,
    /// a chat id with an optional `/topic`).
    pub fn target(mut self, prefix: impl Into<String>, destination: Destination) -> Self {
        let prefix = prefix.into();
        self.0.targets.retain(|(existing, _)| *existing != prefix);
        self.0.targets.push((prefix, destination));
        self
    }

    /// Sends alerts whose event, or one of its enclosing spans, has the
    /// field `name` with the value `value` (as the alert shows it: `3`,
    /// `search`) to `destination` (env `TELEGRAM_ROUTE_FIELDS`:
    /// `team:search=-100456/3,…`). With field routes, repeats are counted on
    /// the ordinary path rather than at the layer's repeat gate (two records
    /// of one callsite may belong to two teams), so a repeat costs about as
    /// much as a first occurrence.
    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        destination: Destination,
    ) -> Self {
        self.0.fields.push((name.into(), value.into(), destination));
        self
    }
}
