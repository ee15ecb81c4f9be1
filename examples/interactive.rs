//! Interactive alerts: buttons under each alert to acknowledge it or mute
//! its kind, pressed in the chat.
//!
//! ```text
//! cargo run --example interactive
//! TELEGRAM_BOT_TOKEN=… TELEGRAM_CHAT_ID=… cargo run --example interactive
//! ```
//!
//! With a real bot it posts one alert and listens for presses for a minute
//! (the bot must have no webhook). Without a token it plays a chat member
//! on the built-in fake Bot API: they press ✅ Ack, then 🔕 1 h, and the
//! alert's repeats go quiet.

use std::time::Duration;

mod support;

#[derive(Debug)]
struct QuoteError;

impl std::fmt::Display for QuoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shipping quote service answered 503")
    }
}

impl std::error::Error for QuoteError {}

#[tracing::instrument(err)]
fn quote_shipping(order: u64) -> Result<u64, QuoteError> {
    Err(QuoteError)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (builder, target) = support::Target::builder("shipping")?;
    let (layer, guard) = builder
        .interactive(|i| i.enabled(true))
        .interactive(|i| i.poll_timeout(Duration::from_secs(2)))
        .build()?;
    support::install(layer);

    let _ = quote_shipping(1);
    guard.flush(Duration::from_secs(10));
    match &target.mock {
        Some(mock) => {
            let alert = mock.messages().remove(0);
            println!("buttons: {:?}", alert.buttons());
            let toast = mock.press(alert.message_id, 4242, "✅ Ack");
            println!("pressed ✅ Ack → toast {toast:?}");
            let toast = mock.press(alert.message_id, 4242, "🔕 1 h");
            println!("pressed 🔕 1 h → toast {toast:?}");
            std::thread::sleep(Duration::from_millis(300));
            for order in 2..=5 {
                let _ = quote_shipping(order); // muted: counted for the digest
            }
        }
        None => {
            println!("Press the alert's buttons in the chat; listening for a minute.");
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let stats = guard.shutdown(Duration::from_secs(10));
    target.print(&stats);
    Ok(())
}
