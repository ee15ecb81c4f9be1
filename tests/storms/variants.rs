//! One callsite, many texts: user input in the message defeats dedup, so a
//! storm of it must fold into one alert at its callsite — without filling
//! the queue, without drowning the next problem, and with its size told
//! (default settings, Telegram's pacing on a virtual clock).

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::Pacing;

use crate::common;

const COLUMNS: [&str; 7] = ["ssn", "dob", "email", "iban", "phone", "zip", "city"];

/// A user name from `n`, in letters only (digits would be normalised away,
/// and these must be different texts).
fn user_name(mut n: u64) -> String {
    let mut name = String::from("user-");
    loop {
        name.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return name;
        }
    }
}

pub fn import_rejected(n: u64) {
    let user = user_name(n);
    let column = COLUMNS[(n % 7) as usize];
    tracing::error!("import rejected for user {user}: column {column} is not writable");
}

#[test]
fn a_storm_of_variants_is_one_alert_and_the_next_problem_still_gets_through() {
    let mock = MockTelegram::start().unwrap();
    mock.enforce_limits(Pacing::telegram());
    let (builder, _clock) = common::default_builder_on_virtual_clock(&mock);
    let (layer, guard) = builder.build::<tracing_subscriber::Registry>().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    const PER_THREAD: u64 = 100_000;
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for n in 0..PER_THREAD {
                        import_rejected(thread * PER_THREAD + n);
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::error!("ledger out of balance");
    });
    let stats = guard.shutdown(Duration::from_secs(10));

    common::assert_accounted(&stats);
    assert_eq!(stats.accepted, 2 * PER_THREAD + 1, "{stats:?}");
    assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
    let messages = mock.messages();
    let texts: Vec<String> = messages.iter().map(|m| m.plain_text()).collect();
    assert!(
        mock.notifications() <= 5,
        "{} notifying messages: {texts:#?}",
        mock.notifications()
    );
    assert!(
        texts.iter().any(|t| t.contains("ledger out of balance")),
        "the unrelated error after the storm: {texts:#?}"
    );
    let fold = texts
        .iter()
        .find(|t| t.contains("Many variants: import rejected for user"))
        .unwrap_or_else(|| panic!("no folded alert: {texts:#?}"));
    assert!(fold.contains("• import rejected for user user-"), "{fold}");
    assert!(fold.contains("different messages"), "{fold}");
    common::assert_storm_size_told(&messages, 2 * PER_THREAD);
}
