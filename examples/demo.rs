//! A small order service that fails now and then, with tracing-telegram
//! installed.
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! With `TELEGRAM_BOT_TOKEN` and `TELEGRAM_CHAT_ID` unset, it starts the
//! built-in fake Bot API (`MockTelegram`) and prints every message the bot
//! would have posted. With them set (and any other variable from the README's
//! table), it posts to that chat for real.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use tracing::{error, info, instrument, warn};
use tracing_telegram::{Alert, AlertLevel};

mod support;

#[derive(Debug)]
struct GatewayTimeout {
    after_ms: u64,
}

impl fmt::Display for GatewayTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no answer from the payment gateway after {} ms",
            self.after_ms
        )
    }
}

impl Error for GatewayTimeout {}

#[derive(Debug)]
struct ChargeFailed(GatewayTimeout);

impl fmt::Display for ChargeFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not charge the card")
    }
}

impl Error for ChargeFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[instrument(fields(provider = "acme-pay"))]
async fn charge(order_id: u64, amount_cents: u64) -> Result<(), ChargeFailed> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    if order_id.is_multiple_of(3) {
        return Err(ChargeFailed(GatewayTimeout { after_ms: 3000 }));
    }
    Ok(())
}

#[instrument(skip(customer), fields(customer.tier = customer.1))]
async fn handle_order(order_id: u64, customer: (&str, &str)) {
    info!(customer = customer.0, "order received");
    match charge(order_id, 1250 * order_id).await {
        Ok(()) => info!("order paid"),
        Err(err) => error!(
            error = &err as &dyn Error,
            "order {order_id} could not be paid"
        ),
    }
    if order_id == 4 {
        warn!("stock for SKU-17 is low"); // WARN: not an alert by default
                                          // Characters that must be escaped in Telegram HTML reach the chat intact.
        error!(
            sku = "SKU-17",
            query = "qty < 0 && reserved > 0",
            "inventory check failed: <negative stock>"
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (builder, target) = support::Target::builder("demo-shop")?;
    let (layer, guard) = builder.build()?;
    support::install(layer);

    let customers = [("alice", "gold"), ("bob", "basic")];
    let orders: Vec<_> = (1..=6)
        .map(|id| tokio::spawn(handle_order(id, customers[id as usize % 2])))
        .collect();
    for order in orders {
        order.await?;
    }
    guard.handle().send(
        Alert::new(AlertLevel::Info, "Demo finished")
            .with_text("All orders were processed.")
            .detail("orders", 6),
    );

    let stats = guard.shutdown(Duration::from_secs(5));
    target.print(&stats);
    Ok(())
}
