//! An outage: many components fail at once, each from its own callsite.
//! One incident message names them all and counts their repeats, instead of
//! a paced stream of notifications that Telegram's limits cut short
//! (default settings, Telegram's pacing on a virtual clock).

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::Pacing;

use crate::common;

/// Forty components, each failing from a callsite of its own (each with a
/// target of its own too: macro-made callsites share a line, and a
/// callsite is told apart by target, file and line in every process).
macro_rules! components {
    ($($name:ident)*) => {
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];

        pub fn component_fails(n: usize, attempt: u64) {
            let mut callsites: [fn(u64); 40] = [|_| {}; 40];
            let mut i = 0;
            $(
                callsites[i] = |attempt| {
                    tracing::error!(
                        target: concat!("shop::", stringify!($name)),
                        attempt,
                        concat!(stringify!($name), " is down")
                    )
                };
                i += 1;
            )*
            debug_assert_eq!(i, 40);
            callsites[n](attempt);
        }
    };
}
components!(billing search ledger inventory payments shipping refunds invoices mailer sessions carts catalog pricing reviews ratings accounts profiles avatars uploads thumbnails
    exports imports reports webhooks scheduler queue cache gateway auth tokens audit metrics notifier sms push chat geo tax fraud loyalty);

pub const COMPONENTS: usize = 40;
const ROUNDS: u64 = 25;

#[test]
fn forty_components_down_at_once_are_one_incident_naming_them_all() {
    let mock = MockTelegram::start().unwrap();
    mock.enforce_limits(Pacing::telegram());
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let (layer, guard) = builder.build::<tracing_subscriber::Registry>().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        // 25 times each over 5 s.
        for attempt in 0..ROUNDS {
            for n in 0..COMPONENTS {
                component_fails(n, attempt);
            }
            clock.advance(Duration::from_millis(200));
        }
    });
    let stats = guard.shutdown(Duration::from_secs(10));

    common::assert_accounted(&stats);
    assert_eq!(stats.accepted, COMPONENTS as u64 * ROUNDS, "{stats:?}");
    assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
    let messages = mock.messages();
    let texts: Vec<String> = messages.iter().map(|m| m.plain_text()).collect();
    let notifying = common::notifying(&messages);
    assert!(
        notifying.len() <= 3,
        "{} notifying messages: {texts:#?}",
        notifying.len()
    );
    let incident = texts
        .iter()
        .find(|t| t.contains("INCIDENT"))
        .unwrap_or_else(|| panic!("no incident message: {texts:#?}"));
    assert!(
        incident.contains("40 problems at once · 1000 occurrences"),
        "{incident}"
    );
    for name in NAMES {
        assert!(
            incident.contains(&format!("{name} is down · ×25")),
            "{name} is not named with its count: {incident}"
        );
    }
}
