//! The panic hook: a panic becomes a Critical alert, delivered before the
//! process may abort.
//!
//! The hook chains to the previously installed one (so the default message
//! still prints), never panics itself (a panic inside a panic hook aborts the
//! process), never touches the `tracing` dispatcher or registry (the panic may
//! have happened while one of their locks was held), and waits for delivery
//! only for a short bound — and not at all on the worker's own thread.

use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::Arc;

use crate::alert::AlertLevel;
use crate::channel::{in_user_hook, on_worker_thread, Flusher, Producer};
use crate::record::{Captured, FieldValue, Kind, Origin, Record};
use crate::text::panic_text;

use super::backtrace;
use super::PanicConfig;

thread_local! {
    /// Set while this thread runs our hook: a panic inside it is not reported again.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook in front of the current one.
pub(crate) fn install(producer: Arc<Producer>, flusher: Flusher, config: PanicConfig) {
    let PanicConfig {
        flush_timeout,
        max_frames,
    } = config;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let first_entry = IN_HOOK
            .try_with(|flag| !flag.replace(true))
            .unwrap_or(false);
        // A panic on the worker thread is a user hook's, caught there and
        // reported by the worker: as a record it could loop through the hook.
        if first_entry && !on_worker_thread() {
            report(&producer, info, max_frames);
            flusher.flush(flush_timeout);
        }
        if first_entry {
            let _ = IN_HOOK.try_with(|flag| flag.set(false));
        }
        // A user hook's panic is reported by the worker, once per window:
        // printed here, a hook that always panics would print every record.
        if !in_user_hook() {
            previous(info);
        }
    }));
}

/// Queues a Critical alert for this panic.
fn report(producer: &Producer, info: &PanicHookInfo<'_>, max_frames: usize) {
    let message = panic_text(info.payload());
    let thread = std::thread::current();
    let thread_name = thread.name().unwrap_or("<unnamed>").to_owned();
    let mut fields = vec![("thread".into(), FieldValue::Str(thread_name.clone()))];
    if let Some(location) = info.location() {
        fields.push((
            "location".into(),
            FieldValue::Str(format!(
                "{}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            )),
        ));
    }
    let captured = Captured {
        title: Some(format!("Panic in thread '{thread_name}'")),
        fields,
        backtrace: (max_frames > 0).then(backtrace::capture),
        ..Captured::default()
    };
    let level = AlertLevel::Critical;
    producer.submit(Record::new(
        level,
        Kind::Alert,
        Origin::Manual,
        message.into(),
        captured,
    ));
}
