//! The wiring: validated parts become a running worker, the layer that
//! feeds it, the guard that drains it, and (if asked for) the panic hook.
//!
//! Everything that can fail is made before the worker thread starts (the
//! HTTP client, the Redis client, the runtime), and the panic hook is
//! installed last, so a failure leaves nothing behind.

use std::sync::Arc;

use crate::capture::panic;
use crate::capture::TelegramLayer;
use crate::channel::drops::DropTally;
use crate::channel::{self, KeptAlive, WorkerHandle};
use crate::delivery::client::BotClient;
use crate::delivery::Courier;
use crate::error::Error;
use crate::fleet::watch::{unix_millis, Presence};
use crate::fleet::{Fleet, FleetStore};
use crate::gate::RepeatGate;
use crate::guard::TelegramGuard;
#[cfg(feature = "interactive")]
use crate::interact::actions::Buttons;
#[cfg(feature = "interactive")]
use crate::interact::callback::CallbackKey;
#[cfg(feature = "interactive")]
use crate::interact::press::PressJudge;
use crate::pipeline::{Links, Pipeline};
use crate::render::Identity;
use crate::report::Reporter;
use crate::stats::Counters;
use crate::worker::{self, WorkerSetup};

use super::validate::Validated;

/// Starts the worker and returns the layer and its guard.
pub(super) fn start(parts: Validated) -> Result<(TelegramLayer, TelegramGuard), Error> {
    let counters = Arc::new(Counters::default());
    // Everything printed is scrubbed like everything sent (the token included).
    let reporter = Arc::new(Reporter::new(parts.pipeline.sanitizer.clone()));
    for note in &parts.notes {
        reporter.notice(note);
    }
    let client = BotClient::new(&parts.delivery, &parts.token)?;
    let store = parts
        .fleet
        .map(|config| FleetStore::new(config, Arc::clone(&counters), Arc::clone(&reporter)));
    let mut fleet = Fleet::new(
        store,
        parts.pipeline.dedup.window,
        parts.pipeline.digest.window,
    );
    if let Some(interval) = parts.watch {
        fleet.watch(interval, presence_of(&parts.pipeline.identity));
    }
    let gate = Arc::new(RepeatGate::new(
        parts.fold,
        parts.clock.now(),
        parts.pipeline.dedup.field_distribution,
    ));
    let drops = Arc::new(DropTally::default());
    #[cfg_attr(not(feature = "interactive"), allow(unused_mut))]
    let mut pipeline = Pipeline::new(
        parts.pipeline,
        parts.addresses,
        parts.clock.clone(),
        fleet.is_shared(),
        Links {
            gate: Arc::clone(&gate),
            drops: Arc::clone(&drops),
            counters: Arc::clone(&counters),
            reporter: Arc::clone(&reporter),
        },
    );
    #[cfg(not(feature = "interactive"))]
    let interactive = None; // refused by validation without the feature
    #[cfg(feature = "interactive")]
    let interactive = parts.interactive.map(|config| {
        let key = CallbackKey::from_token(parts.token.expose());
        let buttons = Buttons {
            key: key.clone(),
            mute_options: config.mute_options.clone(),
        };
        pipeline.enable_buttons(buttons);
        pipeline.enable_escalation(config.escalation.clone());
        pipeline.keep_reports();
        fleet.interactive();
        let chats = pipeline.alert_chats();
        let judge = PressJudge::new(
            key,
            config.mute_options.clone(),
            config.allowed_users.clone(),
            chats,
        );
        (config, judge)
    });
    let courier = Courier::new(
        parts.delivery,
        pipeline.main_chat(),
        parts.queue_capacity,
        client,
        parts.clock.clone(),
        Arc::clone(&counters),
        Arc::clone(&reporter),
    );
    let (producer, control, inbox) = channel::open(parts.queue_capacity, &counters, &drops);
    let kept = KeptAlive::default();
    let thread = worker::spawn(
        WorkerSetup {
            config: parts.worker,
            pipeline,
            fleet,
            courier,
            counters: Arc::clone(&counters),
            reporter,
            interactive,
        },
        inbox,
        kept.clone(),
    )?;
    let producer = Arc::new(producer);
    let handle = WorkerHandle::new(control, thread, counters, Arc::clone(&gate));
    let layer = TelegramLayer::new(
        Arc::clone(&producer),
        parts.capture,
        parts.clock,
        parts.gate.then_some(gate),
    );
    // Installed last: a failure above leaves no hook behind. Registered for
    // as long as the worker runs (it runs the user's hooks).
    if let Some(config) = parts.panics {
        kept.keep(panic::install(
            Arc::clone(&producer),
            handle.flusher(),
            config,
        ));
    }
    let guard = TelegramGuard::new(handle, producer, parts.drop_timeout);
    Ok((layer, guard))
}

/// What this process says about itself to the fleet it watches.
fn presence_of(identity: &Identity) -> Presence {
    Presence {
        service: identity.service.clone(),
        environment: identity.environment.clone(),
        host: worker::hostname(),
        pid: std::process::id(),
        version: identity.version.clone(),
        started_ms: unix_millis(std::time::SystemTime::now()),
        last_alert: None,
    }
}
